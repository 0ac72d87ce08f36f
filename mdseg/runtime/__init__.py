"""Where code runs: the device and precision, torch.distributed process groups, the Hugging Face
hub when it is unreachable. The lowest layer: imports only ``mdseg.errors``."""
