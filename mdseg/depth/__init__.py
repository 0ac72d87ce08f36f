"""Pseudo depth: teachers (DPT-DINOv2, Depth Anything, the simulated one), their output turned into
training targets in each unit, cached once and checked against true depth. Imports ``runtime``,
``world`` and ``data``."""
