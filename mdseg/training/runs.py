"""A run folder: its files, its identity, its records, its result and its lock.

``runs/<profile>[-<target>]/<recipe>/seed<k>/`` holds

- ``config.json``: the run's identity, every setting that determines its result
  (:func:`mdseg.study.profiles.identity`); a folder is only ever resumed or reused by a run with
  the same identity (:func:`claim`);
- ``checkpoint.safetensors``: model and optimizer after the last finished epoch;
- ``log.jsonl`` and ``diagnostics.jsonl``: one JSON record per epoch / per diagnosed step
  (:func:`read_records` tolerates a torn last line left by a crash);
- ``result.json`` once the schedule is finished, or ``diverged.json`` when a suite keeps a run
  that a non-finite loss stopped as its outcome; ``.lock`` while a process trains into it.

The lock: two processes (two notebook kernels, or a notebook and the CLI) training into the same
folder would interleave checkpoints and logs. :func:`exclusive` holds an operating-system lock on
``<folder>/.lock`` (``flock``) while a run trains, with the holder's PID written in it. The kernel
releases the lock when its process ends, however it ends, so a lock left by a killed trainer is
simply taken over by the next one. Where ``fcntl`` does not exist (Windows) the lock is skipped.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import MdsegError, OutputExists
from ..runtime.files import read_json, write_json
from .diagnostics import summarize_diagnostics
from ..model.files import CHECKPOINT  # noqa: F401 (a run folder's file names live here: runs.CHECKPOINT)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

CONFIG = "config.json"
LOG = "log.jsonl"
DIAGNOSTICS = "diagnostics.jsonl"
RESULT = "result.json"
LOCK = ".lock"
DIAGNOSTICS_SUMMARY = "diagnostics.json"  # the shipped reference keeps only this summary of diagnostics.jsonl
FINISHED_FORMAT = "%Y-%m-%d %H:%M UTC"  # result.json's "finished" (runs older than it have none)
DIVERGED = "diverged.json"  # a run a non-finite loss stopped, kept as its outcome where a suite maps failures


class BrokenRecords(MdsegError, ValueError):
    """A records file has an unreadable line before its last one (not a crash: an edit or disk fault)."""


def run_dir(out: str | Path, recipe: str, seed: int) -> Path:
    """``out/<recipe with '/' as '__'>/seed<k>``."""
    return Path(out) / recipe.replace("/", "__").replace(">", "") / f"seed{seed}"


def seeds_in(out: str | Path, recipe: str) -> list[int]:
    """The seeds that have a run folder (with an identity) of ``recipe`` under ``out``, in order: a suite
    read without training reads every seed trained there, not only the ones its profile lists."""
    parent = run_dir(out, recipe, 0).parent
    found = [p.name[len("seed"):] for p in parent.glob("seed*") if (p / CONFIG).exists()]
    return sorted(int(k) for k in found if k.isdigit())


def claim(folder: str | Path, wanted: dict, write: bool = True) -> dict | None:
    """Make ``folder`` the home of the run whose :func:`identity` is ``wanted`` (written to
    ``config.json`` when ``write``: under torch.distributed only rank 0 writes, every rank checks).
    Returns the finished ``result.json`` when the folder already holds this run's result, else
    ``None`` (train, resuming from what is there). Raises :class:`~mdseg.errors.OutputExists`
    when the folder holds a run with another identity."""
    folder = Path(folder)
    wanted = json.loads(json.dumps(wanted))  # tuples become lists, as stored
    path = folder / CONFIG
    if path.exists():
        if read_json(path, f"delete {folder} to retrain that run") != wanted:
            raise OutputExists(f"{folder} holds a run with other settings (see {path}); "
                               "use another --out or delete that folder to retrain.")
        if (folder / RESULT).exists():
            return read_result(folder)
        return None
    if write:
        folder.mkdir(parents=True, exist_ok=True)
        write_json(path, wanted)
    return None


def read_result(folder: str | Path) -> dict:
    """The ``result.json`` of a finished run, with its per-epoch ``history`` read from ``log.jsonl``
    where the file leaves it out (the shipped reference runs do)."""
    result = read_json(Path(folder) / RESULT, f"delete it and rerun the same command: a finished run writes it again "
                       f"from its log without training (it retrains where {folder} holds no checkpoint)")
    if "history" not in result:
        result["history"] = read_records(Path(folder) / LOG)
    return result


def write_result(folder: str | Path, result: dict) -> None:
    write_json(Path(folder) / RESULT, result)


def write_divergence(folder: str | Path, message: str, where: dict | None = None) -> None:
    """Record that the run in ``folder`` stopped on a non-finite loss: the ``message`` and, in fields,
    where (:meth:`mdseg.training.step.NonFiniteLoss.record`: stage, epoch, step, the loss values)."""
    write_json(Path(folder) / DIVERGED, {"diverged": message, **(where or {})})


def read_divergence(folder: str | Path) -> dict | None:
    """The record of a run a non-finite loss stopped (``diverged``: the message, and the fields of
    :func:`write_divergence`), else ``None``."""
    path = Path(folder) / DIVERGED
    return read_json(path, "delete it to train that run again") if path.exists() else None


def where_text(record: dict) -> str:
    """Where a run stopped on a non-finite loss, from a ``diverged.json`` record's fields."""
    parts = []
    if "stage" in record:
        parts.append(f"stage {record['stage']} '{record.get('stage_name', '')}'")
    if "epoch" in record:
        parts.append(f"epoch {record['epoch']}")
    if "step" in record:
        parts.append(f"step {record['step']}")
    values = ", ".join(f"{k}={v}" for k, v in record.get("values", {}).items())
    return ", ".join(parts) + (f": {values}" if values else "")


def read_records(path: str | Path) -> list[dict]:
    """The records of a JSON-lines file such as ``log.jsonl`` (``[]`` when it does not exist).
    A torn last line (a crash while writing it) is dropped; a broken line before it raises
    :class:`BrokenRecords`."""
    path = Path(path)
    if not path.exists():
        return []
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    records = []
    for number, line in enumerate(lines, 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                break
            raise BrokenRecords(f"{path}, line {number}, is not a JSON record: fix or delete that line "
                                "(the run resumes from its checkpoint either way).") from None
    return records


def diagnostics_summary(folder: str | Path) -> dict[str, float]:
    """:func:`~mdseg.training.diagnostics.summarize_diagnostics` of a run's ``diagnostics.jsonl``, or the
    summary a shipped reference run keeps instead (``steps`` 0 when the run logged none)."""
    summary = Path(folder) / DIAGNOSTICS_SUMMARY
    if summary.exists() and not (Path(folder) / DIAGNOSTICS).exists():
        return read_json(summary, "restore it from the repository (git checkout) or delete that run folder")
    return summarize_diagnostics(read_records(Path(folder) / DIAGNOSTICS))


def append_record(path: str | Path, record: dict) -> None:
    with Path(path).open("a") as handle:
        handle.write(json.dumps(record) + "\n")


def keep_records(path: str | Path, until: tuple[int, int]) -> list[dict]:
    """Read ``path``'s records and keep those up to ``until`` = (stage, epoch), the progress of
    the checkpoint a run resumes from. Returns them; :func:`rewrite_records` writes them back."""
    return [r for r in read_records(path) if (r["stage"], r["epoch"]) <= until]


def rewrite_records(path: str | Path, records: list[dict]) -> None:
    """Replace ``path``'s records (no file is made for none, so runs that never diagnose have no
    empty ``diagnostics.jsonl``)."""
    path = Path(path)
    if records or path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in records))
        os.replace(tmp, path)


class RunLocked(MdsegError, RuntimeError):
    """Another live process is training into this run folder."""


@contextmanager
def exclusive(folder: str | Path) -> Iterator[None]:
    """Hold ``folder``'s lock for the ``with`` block; raise :class:`RunLocked` naming the holder's
    PID when another process holds it. The lock is on the folder itself (``flock`` on its directory),
    so deleting ``.lock`` (which only records the holder's PID) cannot let a second trainer in."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        try:
            holder = (folder / LOCK).read_text().strip() or "unknown"
        except OSError:
            holder = "unknown"
        raise RunLocked(f"{folder} is being trained by another process (PID {holder}). Wait for it to finish, "
                        f"or stop it (kill {holder}) and rerun: the run resumes from its last checkpoint.") from None
    try:
        (folder / LOCK).write_text(f"{os.getpid()}\n")
        yield
    finally:
        (folder / LOCK).write_text("")  # no holder
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
