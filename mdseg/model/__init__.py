"""The two-decoder U-Net, the shipped offline encoder weights, checkpoints and export. Imports
``runtime``, ``world``, ``data`` and ``depth``."""
