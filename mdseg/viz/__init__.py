"""Figures and widgets (the top layer: may import every other). Every builder returns a matplotlib Figure and works without a browser;
widgets are thin factories over those builders (tests set their values and read the figure).

:mod:`~mdseg.viz.images` shows pictures (samples, depth, predictions, the explorer);
:mod:`~mdseg.viz.charts` shows numbers (curves, schedules, per-class IoU, diagnostics);
:mod:`~mdseg.viz.tradeoff` segmentation against depth quality.
"""
from .charts import (
                     budget_curves,
                     diagnostics_figure,
                     failure_map,
                     per_class_iou,
                     per_class_iou_difference,
                     schedule_timeline,
                     training_curves,
                     weight_curve,
)
from ..runtime.display import show
from .tradeoff import tradeoff, tradeoffs
from .images import (
                     DEPTH_CMAP,
                     class_legend,
                     dataset_grid,
                     depth_gallery,
                     explorer,
                     explorer_figure,
                     figure3,
                     overlay,
                     predict,
                     save_preview,
)

__all__ = ["DEPTH_CMAP", "budget_curves", "class_legend", "dataset_grid", "depth_gallery", "diagnostics_figure", "explorer",
           "explorer_figure", "failure_map", "figure3", "overlay", "per_class_iou", "per_class_iou_difference", "predict",
           "save_preview", "schedule_timeline", "show", "tradeoff", "tradeoffs", "training_curves", "weight_curve"]
