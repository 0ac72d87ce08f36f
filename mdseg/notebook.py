"""What every notebook does first: choose the profile (``MDSEG_PROFILE``, ``MDSEG_SEEDS``), run
from the repository root, and say where runs are kept."""
from __future__ import annotations

import os
from pathlib import Path

from .profiles import Profile, from_environment


def setup(default: str = "cpu") -> tuple[Profile, Path]:
    """Returns ``(profile, runs)``: the profile from the environment and its runs folder
    (``runs/<profile>``, shared by the notebooks so later ones reuse earlier training). A notebook
    started from ``notebooks/`` moves to the repository root, where ``make run`` works too."""
    here = Path.cwd()
    if here.name == "notebooks" and (here.parent / "mdseg").is_dir():
        os.chdir(here.parent)
    profile = from_environment(default)
    runs = Path("runs") / profile.name
    print(f"Profile '{profile.name}': {profile.about}. Seeds {', '.join(map(str, profile.seeds))}; "
          f"runs in {runs}/ (MDSEG_PROFILE and MDSEG_SEEDS change these).")
    return profile, runs
