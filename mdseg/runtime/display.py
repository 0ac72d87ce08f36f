"""Showing a figure whatever the matplotlib backend: a notebook cell that only assigns a figure shows
nothing under a non-interactive backend (Agg, what ``make test`` and CI use), and under Agg IPython has
no image formatter for a figure either (``display(fig)`` gives only its text), so :func:`show` renders
the figure to a PNG itself, displays that, and closes the figure (no figure left open per cell)."""
from __future__ import annotations

import io

import matplotlib.pyplot as plt


def show(fig: plt.Figure) -> None:
    """Display ``fig`` (as a PNG image in a notebook, in a window elsewhere) and close it."""
    try:
        from IPython import get_ipython  # deferred: plain Python has no IPython
        from IPython.display import Image, display
    except ImportError:  # plain Python without IPython
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        png = io.BytesIO()
        fig.savefig(png, format="png", bbox_inches="tight")  # what the inline backend draws, under any backend
        display(Image(png.getvalue()))
    else:
        plt.show()
    plt.close(fig)
