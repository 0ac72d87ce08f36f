"""The offline VOC-like world: scenes with a large main subject, class appearances that overlap,
scene contexts and metric depth geometry, written in VOC's exact format. Imports ``runtime`` and
the shared ``mdseg.voc`` / ``mdseg.errors`` only."""
