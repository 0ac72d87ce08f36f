"""A run folder's exclusive lock: one trainer per folder at a time.

Two processes (two notebook kernels, or a notebook and the CLI) training into the same folder would
interleave checkpoints and logs. :func:`exclusive` holds an operating-system lock on
``<folder>/.lock`` (``flock``) while a run trains, with the holder's PID written in it. The kernel
releases the lock when its process ends, however it ends, so a lock left by a killed trainer is
simply taken over by the next one. Where ``fcntl`` does not exist (Windows) the lock is skipped.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

LOCK = ".lock"


class RunLocked(RuntimeError):
    """Another live process is training into this run folder."""


@contextmanager
def exclusive(folder: str | Path) -> Iterator[None]:
    """Hold ``folder``'s lock for the ``with`` block; raise :class:`RunLocked` naming the holder's
    PID when another process holds it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    handle = open(folder / LOCK, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise RunLocked(f"{folder} is being trained by another process (PID {holder}). Wait for it to finish, "
                        f"or stop it (kill {holder}) and rerun: the run resumes from its last checkpoint.") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.truncate(0)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
