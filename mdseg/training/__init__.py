"""Training: losses, schedules as data, one training step, the loop (``train_one_epoch``,
``evaluate``, ``run``), metrics, run folders, multi-task tools and the offline pretraining.
Imports every layer above it in this list: ``runtime``, ``world``, ``data``, ``depth``, ``model``."""
