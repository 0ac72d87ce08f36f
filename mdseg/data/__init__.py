"""Datasets on disk and in memory: the VOC-layout dataset and its transforms, the array path, the
pseudo-depth cache's file format, one way to get batches whichever path, downloads and checks.
Imports ``runtime`` and ``world``."""
