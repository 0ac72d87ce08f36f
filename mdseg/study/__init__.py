"""Studying results: profiles, experiments and suites, the shipped reference runs, comparisons
over seeds, the paper's numbers and reports, the metric check, the Colab rehearsal, statistics of
datasets. Imports every lower layer (``runtime`` ... ``training``), never ``viz``."""
