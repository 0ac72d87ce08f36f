"""Where code runs: the device and precision, torch.distributed process groups, the Hugging Face
hub when it is unreachable, showing a figure in a notebook or a window. The lowest layer: imports only ``mdseg.errors``."""
