"""Files written whole or not at all, and read back with a message instead of a traceback.

Every JSON file mdseg writes (run identities, results, manifests, provenance) goes through
:func:`write_json`: the text goes to a temporary file named for this process, is flushed to disk and
renamed over the target, so a crash leaves the old file or the new one, never half of one, and two
processes never share a temporary name. :func:`read_json` names a torn or edited file and the fix.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import BrokenFile


def write_json(path: str | Path, value, indent: int | None = 1) -> None:
    """Atomically write ``value`` as JSON to ``path`` (its folder must exist)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w") as handle:
            handle.write(json.dumps(value, indent=indent))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_json(path: str | Path, fix: str = "delete it and rerun the command that made it"):
    """The JSON value in ``path``; a torn or edited file raises :class:`~mdseg.errors.BrokenFile`
    naming it and ``fix`` (what to do)."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise BrokenFile(f"{path} is not valid JSON (torn by a crash or edited: {error.msg} at line {error.lineno}): "
                         f"{fix}.") from None
    except UnicodeDecodeError:
        raise BrokenFile(f"{path} is not a text file (damaged): {fix}.") from None
