"""mdseg: a multi-decoder U-Net (segmentation + pseudo depth) teaching and research kit."""
from .model.unet import MultiDecoderUNet
from .training.losses import depth_loss, focal_loss
from .training.metrics import SegMetrics
from .training.schedule import Schedule, Stage  # noqa: E402

__all__ = ["MultiDecoderUNet", "focal_loss", "depth_loss", "SegMetrics", "Stage", "Schedule"]
__version__ = "0.1.0"
