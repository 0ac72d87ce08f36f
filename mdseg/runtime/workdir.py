"""``MDSEG_WORKDIR``: the folder every command and notebook works in (data, caches, runs), e.g. a
Google Drive folder on Colab so that a disconnected runtime loses nothing. Relative paths given to
any command then resolve under it."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import SettingError

WORKDIR_VAR = "MDSEG_WORKDIR"


def enter_workdir() -> Path | None:
    """Move into ``$MDSEG_WORKDIR`` (made if missing) and return it, or ``None`` when unset. The
    variable is resolved once to an absolute path and written back, so a second call (another
    notebook cell, a subprocess) lands in the same folder instead of nesting a relative one."""
    value = os.environ.get(WORKDIR_VAR, "").strip()
    if not value:
        return None
    work = Path(value).expanduser().resolve()
    if work.exists() and not work.is_dir():
        raise SettingError(f"${WORKDIR_VAR} is {work}, which is a file, not a folder: point it at a folder "
                           "(it is made if missing), or unset it to work in the current folder.")
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SettingError(f"${WORKDIR_VAR} is {work}, which cannot be made ({error.strerror}): choose a folder "
                           "you can write to.") from None
    os.environ[WORKDIR_VAR] = str(work)
    os.chdir(work)
    return work
