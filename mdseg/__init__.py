"""mdseg: a multi-decoder U-Net (segmentation + pseudo depth) teaching and research kit."""
from .losses import depth_loss, focal_loss
from .metrics import SegMetrics
from .model import MultiDecoderUNet
from .schedule import Schedule, Stage  # noqa: E402

__all__ = ["MultiDecoderUNet", "focal_loss", "depth_loss", "SegMetrics", "Stage", "Schedule"]
__version__ = "0.1.0"
