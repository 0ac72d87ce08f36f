"""The paper's numbers, in one place (Kim, Kim & Lee 2024): Tables 2 and 3, and the one result its
text states differently from its table.

"iIoU" is the paper's name for a metric it defines as IoU over objects (background excluded); its
values do not fit a plain mean over the 20 object classes (notebook 05 shows why).
"""
from __future__ import annotations

from ..training.schedule import BASELINE, NAIVE

PAPER: dict[str, dict[str, float]] = {
    "single-decoder": {"mIoU": 0.7703, "iIoU": 0.48, "acc": 0.986},
    "naive-joint": {"mIoU": 0.6412, "iIoU": 0.15, "acc": 0.977},
    "semantic-first/copy/d->b": {"mIoU": 0.7297, "iIoU": 0.3759, "acc": 0.9840},
    "semantic-first/copy/b": {"mIoU": 0.7481, "iIoU": 0.4231, "acc": 0.9852},
    "semantic-first/no-copy/d->b": {"mIoU": 0.7380, "iIoU": 0.3945, "acc": 0.9845},
    "semantic-first/no-copy/b": {"mIoU": 0.7475, "iIoU": 0.4221, "acc": 0.9852},
    "depth-first/copy/s->b": {"mIoU": 0.7789, "iIoU": 0.5052, "acc": 0.9974},
    "depth-first/copy/b": {"mIoU": 0.0136, "iIoU": 0.0061, "acc": 0.9103},
    "depth-first/no-copy/s->b": {"mIoU": 0.7737, "iIoU": 0.5012, "acc": 0.9870},
    "depth-first/no-copy/b": {"mIoU": 0.0085, "iIoU": 0.0103, "acc": 0.9094},
}
# The paper disagrees with itself about naive joint training: its text (section 3.3) gives mIoU 0.7459,
# its Table 2 gives 0.6412. Both are shown wherever the paper's naive result appears.
PAPER_TEXT: dict[str, dict[str, float]] = {NAIVE: {"mIoU": 0.7459}}


def naive_gaps(metric: str = "mIoU") -> dict[str, float]:
    """The paper's naive joint training minus its single decoder, relative to the single decoder:
    ``{"text": -0.0317, "Table 2": -0.1676}``."""
    base = PAPER[BASELINE][metric]
    return {"text": (PAPER_TEXT[NAIVE][metric] - base) / base, "Table 2": (PAPER[NAIVE][metric] - base) / base}


def both_numbers(recipe: str, metric: str = "mIoU") -> str:
    """``0.6412 (Table 2) / 0.7459 (text)`` where the paper gives two numbers, else the one, else ``-``."""
    table = PAPER.get(recipe, {}).get(metric)
    text = PAPER_TEXT.get(recipe, {}).get(metric)
    if table is None:
        return "-"
    return f"{table:.4f} (Table 2) / {text:.4f} (text)" if text is not None else f"{table:.4f}"


DISAGREEMENT = ("The paper disagrees with itself about naive joint training: its text gives mIoU 0.7459 "
                "(-0.0244, -3.2% of its single decoder's 0.7703), its Table 2 gives 0.6412 (-0.1291, -16.8%).")
