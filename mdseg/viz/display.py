"""Showing a figure whatever the matplotlib backend: a notebook cell that only assigns a figure shows
nothing under a non-interactive backend (Agg, what ``make test`` and CI use), so notebooks call
:func:`show`, which displays it explicitly and closes it (no figure left open per cell)."""
from __future__ import annotations

import matplotlib.pyplot as plt


def show(fig: plt.Figure) -> None:
    """Display ``fig`` (as an image in a notebook, in a window elsewhere) and close it."""
    try:
        from IPython import get_ipython  # deferred: plain Python has no IPython
        from IPython.display import display
    except ImportError:  # plain Python without IPython
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(fig)
    else:
        plt.show()
    plt.close(fig)
