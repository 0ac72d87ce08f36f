"""What every notebook does first: choose the profile (``MDSEG_PROFILE``, ``MDSEG_SEEDS``), work
from the repository root (or from ``MDSEG_WORKDIR``), and say where runs are kept."""
from __future__ import annotations

import os
from pathlib import Path

from .profiles import Profile, from_environment

WORKDIR_VAR = "MDSEG_WORKDIR"


def setup(default: str = "cpu") -> tuple[Profile, Path]:
    """Returns ``(profile, runs)``: the profile from the environment and its runs folder
    (``runs/<profile>``, shared by the notebooks so later ones reuse earlier training). A notebook
    started from ``notebooks/`` moves to the repository root, where ``make run`` works too. With
    ``$MDSEG_WORKDIR`` set (e.g. a Google Drive folder on Colab), it works there instead: data,
    caches and runs then survive a disconnected runtime, and a rerun resumes."""
    here = Path.cwd()
    if os.environ.get(WORKDIR_VAR):
        work = Path(os.environ[WORKDIR_VAR]).expanduser()
        work.mkdir(parents=True, exist_ok=True)
        os.chdir(work)
    elif here.name == "notebooks" and (here.parent / "mdseg").is_dir():
        os.chdir(here.parent)
    profile = from_environment(default)
    runs = Path("runs") / profile.name
    print(f"Profile '{profile.name}': {profile.about}. Seeds {', '.join(map(str, profile.seeds))}; "
          f"runs in {runs}/ (MDSEG_PROFILE and MDSEG_SEEDS change these).")
    return profile, runs
