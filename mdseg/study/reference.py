"""Reference runs shipped with mdseg: finished runs of the cpu profile's suites as text, so every
table and figure of the story can be shown in seconds, and a student's own run placed beside them.

``mdseg/reference/<profile>/`` is laid out like ``runs/`` (``<runs root>/<recipe>/seed<k>/``,
:func:`~mdseg.study.profiles.runs_root` with ``base`` = that folder), each run without its checkpoint:

* ``config.json``: the run's identity, as trained;
* ``log.jsonl``: one record per epoch (losses, validation metrics);
* ``result.json``: final metrics, budget, wall time and device (its per-epoch history is the log);
* ``diagnostics.json``: the summary of its gradient diagnostics (:func:`~mdseg.training.diagnostics.summarize_diagnostics`);

plus ``provenance/<suite>.json`` per suite: the command, code commit, device, precision, torch
version, dates and wall time. Every suite function reads it with ``base=reference_root(name)``
and ``finished_only=True``; a shipped run whose identity no longer matches what the current code
would train in that folder is refused there (:func:`mdseg.training.runs.claim`), which
``tests/test_reference.py`` checks for every shipped run.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

from ..errors import MdsegError
from ..runtime.files import read_json, write_json
from ..training import runs
from .profiles import PROFILES, Profile, get_profile, runs_root
from .records import read_recipes
from .retrains import exact_retrain, retrain_at, unmeasured
from .run_record import RunRecord
from .suites import SUITES, Suite

REFERENCE = Path(__file__).parents[1] / "reference"  # mdseg/reference/: data, next to mdseg/model/weights
class ReferenceError(MdsegError, ValueError):
    """The reference cannot be written as asked (mixed devices, nothing finished)."""


def reference_root(profile: str | Profile = "cpu") -> Path:
    """The shipped reference of a profile (a folder laid out like ``runs/``)."""
    return REFERENCE / (profile if isinstance(profile, str) else profile.name)


def suite_runs(profile: Profile, suite: str, base: str | Path) -> list[RunRecord]:
    """Every finished run of ``suite`` under ``base`` (nothing trains), each folder once (:meth:`mdseg.study.suites.Suite.runs`). Raises
    :class:`~mdseg.errors.OutputExists` where a folder holds a run of other settings than the current
    code trains there."""
    return _suite(suite).runs(profile, base)


def suite_size(profile: Profile, suite: str, base: str | Path | None = None) -> tuple[int, str]:
    """How many distinct runs ``suite`` trains under ``profile`` when finished, and what that count
    covers (:meth:`mdseg.study.suites.Suite.planned`)."""
    return _suite(suite).planned(profile, base)


def _suite(name: str) -> Suite:
    if name not in SUITES:
        raise ReferenceError(f"Unknown suite '{name}'; use one of {', '.join(SUITES)}.")
    return SUITES[name]


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


SHIPPED_FILES = (runs.CONFIG, runs.LOG, runs.DIVERGED, runs.RESULT, runs.DIAGNOSTICS_SUMMARY)


def _copy_run(source: Path, dest: Path) -> dict:
    """Copy one finished (or diverged) run's text files, no checkpoint, in place of what ``dest`` held;
    returns its result as shipped."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in SHIPPED_FILES:  # a replaced run keeps nothing of the one before
        (dest / name).unlink(missing_ok=True)
    for name in (runs.CONFIG, runs.LOG, runs.DIVERGED):
        if (source / name).exists():
            shutil.copyfile(source / name, dest / name)
    written = (source / runs.RESULT).exists()
    result = {k: v for k, v in runs.read_result(source).items() if k != "history"} if written else {"wall_seconds": 0}
    if "device" not in result:  # runs older than result.json's device: trained on the machine writing this
        import torch  # only the writer describes its machine: reading the reference needs no torch

        from ..runtime.device import device_info

        here = {k: v for k, v in device_info(torch.device("cpu")).items() if k != "model"}  # the model is not known
        result["device"] = {**here, "recorded": "by the reference writer"}
    if written:
        runs.write_result(dest, result)
    diagnostics = runs.diagnostics_summary(source)
    if diagnostics["steps"] or diagnostics.get("diagnosed"):
        write_json(dest / runs.DIAGNOSTICS_SUMMARY, diagnostics)
    return result


def _models(results: list[RunRecord]) -> str:
    """Which CPU or GPU models trained a suite's runs, e.g. ``AMD EPYC (12 runs); not recorded (63 runs)``."""
    counts: dict[str, int] = {}
    for result in results:
        counts[result.host] = counts.get(result.host, 0) + 1
    return "; ".join(f"{model} ({n} run{'' if n == 1 else 's'})" for model, n in sorted(counts.items()))


def _finished_range(shipped: dict[Path, RunRecord], before: dict, device: str, incoming: set[Path]) -> tuple[str, str]:
    """When the suite's runs finished: each run's recorded ``finished`` time; a run added now that did not
    record it, its folder's last change. A run shipped earlier without one is dated only by the provenance
    already shipped from the same device (its folder's time is when it was checked out or copied), and
    the first date never moves later than that provenance says."""
    same = before.get("device") == device
    times, undated = [], False
    for folder, result in shipped.items():
        if result.finished:
            times.append(result.finished)
        elif folder in incoming or not same or not before.get("last_finished"):
            times.append(time.strftime(runs.FINISHED_FORMAT, time.gmtime(max(p.stat().st_mtime for p in folder.iterdir()))))
        else:
            undated = True
    if same and before.get("first_finished"):
        times.append(before["first_finished"])
    if undated:
        times.append(before["last_finished"])
    times.sort()  # the format sorts as it reads
    return times[0], times[-1]


def write(source: str | Path = "runs", profile: str = "cpu", suites: tuple[str, ...] | None = None,
          dest: str | Path | None = None, commit: str | None = None, replace: bool = False,
          new_only: bool = False, fill_in: bool = False) -> dict[str, dict]:
    """Copy the finished runs of each suite from ``source`` (laid out like ``runs/``) into the
    reference of ``profile`` and write each suite's provenance from what the reference then holds
    (new runs join the shipped ones). A shipped run the source also holds is replaced only with
    ``replace``, or left as shipped with ``new_only`` (the source's copy ignored); with ``fill_in`` only
    the source's exact retrains of shipped runs that predate depth quality replace them
    (:func:`exact_retrain`: no number changes, depth quality and update sizes are added), and a retrain
    that differs is listed under ``not_reproduced``, left as shipped. A suite whose runs would come from
    more than one device is refused, before anything is copied. Returns ``{suite: provenance}`` (with
    how many runs were ``added`` and ``replaced``)."""
    if replace + new_only + fill_in > 1:
        raise ReferenceError("--replace, --new-only and --fill-in contradict each other: pass one of them.")
    named = get_profile(profile)  # the named profile (under $MDSEG_REHEARSAL a shrunk one: refused below)
    if named != PROFILES[profile]:
        raise ReferenceError(f"Profile '{profile}' is changed by the environment (MDSEG_REHEARSAL?): "
                             "a reference is written from the named profile only.")
    source, dest = Path(source), Path(dest) if dest else reference_root(profile)
    shipped_before = {p.parent for p in dest.rglob(runs.CONFIG)}  # a run another suite adds in this call is new here too
    out = {}
    for suite in suites or tuple(SUITES):
        not_reproduced = []
        if fill_in:  # the source's run at each unmeasured shipped run's place (the source need not hold a whole suite)
            pairs = [(r, old) for old in suite_runs(named, suite, dest) if unmeasured(old)
                     if (r := retrain_at(old, source / old.run_dir.relative_to(dest))) is not None
                     and (r.diverged or "depth_r2" in r.metrics)]  # not a plain copy of the shipped run
            not_reproduced = [str(old.run_dir.relative_to(dest)) for r, old in pairs if not exact_retrain(r, old)]
            found = [r for r, old in pairs if exact_retrain(r, old)]
        else:
            found = suite_runs(named, suite, source)
        if not found and not fill_in:
            raise ReferenceError(f"No finished run of suite '{suite}' under {source}: train it first "
                                 f"(`{SUITES[suite].command.format(p=profile)}`).")
        targets = {r.run_dir: dest / r.run_dir.relative_to(source) for r in found}
        if new_only:
            found = [r for r in found if targets[r.run_dir] not in shipped_before]
            targets = {r.run_dir: targets[r.run_dir] for r in found}
        before = dest / "provenance" / f"{suite}.json"
        earlier = read_json(before, "restore it (git checkout)") if before.exists() else {}
        if (new_only or fill_in) and not found and earlier:  # nothing new: the shipped provenance stands
            out[suite] = {**earlier, "added": 0, "replaced": 0, "not_reproduced": not_reproduced}
            continue
        existing = [t for t in targets.values() if t in shipped_before]
        if existing and not (replace or fill_in):
            raise ReferenceError(
                f"Suite '{suite}': {len(existing)} of the {len(targets)} runs under {source} are already shipped (e.g. "
                f"{existing[0].relative_to(dest)}); pass --replace to replace them with the source's, --new-only to "
                "add only the runs not shipped yet, or give a source that holds only new runs.")
        held = {str(r.run_dir): r for r in suite_runs(named, suite, dest) if r.run_dir not in set(targets.values())}
        incoming = {str(targets[r.run_dir]): r for r in found}
        _one_device(suite, [r for r in {**held, **incoming}.values() if r.device])
        for run in found:
            _copy_run(run.run_dir, targets[run.run_dir])
        shipped = {r.run_dir: r for r in suite_runs(named, suite, dest)}
        planned, note = suite_size(named, suite, dest)
        device = next(r for r in shipped.values() if r.device).device
        first, last = _finished_range(shipped, earlier, device["name"], set(targets.values()))
        walls = [r.wall_seconds for r in shipped.values()]
        extra = sum(r.seed not in named.seeds for r in shipped.values())
        provenance = {"suite": suite, "profile": profile, "command": SUITES[suite].command.format(p=profile),
                      "commit": _commits(earlier.get("commit") if len(shipped) > len(targets) else None, commit or _commit()),
                      "device": device["name"], "precision": device["precision"],
                      "torch": device["torch"], "runs": len(shipped), "planned": planned, "planned_note": note,
                      **({"extra_seeds": extra} if extra else {}),
                      "first_finished": first, "last_finished": last,
                      "models": _models([r for r in shipped.values() if r.device]),
                      "wall_seconds": round(sum(w for w in walls if w == w)),
                      "wall_note": "sum of the runs' own wall times (a resumed run: its kept epochs plus its last call; "
                                   "before commit d2d4b98, its last call only; time a run was paused counts)"}
        (dest / "provenance").mkdir(parents=True, exist_ok=True)
        write_json(dest / "provenance" / f"{suite}.json", provenance)
        out[suite] = {**provenance, "added": len(targets) - len(existing), "replaced": len(existing),
                      "not_reproduced": not_reproduced}
    return out


def _commits(earlier: str | None, new: str | None) -> str | None:
    """The code commits a suite's shipped runs were trained at: the earlier provenance's, with ``new``
    (the commit the added runs were trained at) appended when it is not among them already, e.g.
    ``0976e79; eb22a32``. Runs added later never erase where the earlier ones came from."""
    if not earlier:
        return new
    if not new or new[:7] in earlier:
        return earlier
    return f"{earlier}; {new}"


def _one_device(suite: str, results: list[RunRecord]) -> None:
    """Refuse a suite whose runs come from more than one kind of device (type, name, precision)."""
    devices = {json.dumps({k: r.device.get(k) for k in ("type", "name", "precision")}) for r in results}
    if len(devices) > 1:
        raise ReferenceError(f"Suite '{suite}' would hold runs from {len(devices)} devices ({'; '.join(devices)}): "
                             "each suite's reference comes from one device; retrain the others there.")


def provenance(profile: str = "cpu") -> dict[str, dict]:
    """``{suite: provenance}`` of the shipped reference (``{}`` when none is shipped)."""
    folder = reference_root(profile) / "provenance"
    fix = "restore the shipped reference with `git checkout mdseg/reference`"
    return {p.stem: read_json(p, fix) for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


def counted(about: dict) -> str:
    """A provenance's run count: ``115 of 132 runs`` (the planned count is at the profile's seeds), plus
    the extra seeds the seed plan added (:mod:`mdseg.study.seed_plan`), e.g. ``..., plus 12 extra seeds``."""
    extra = about.get("extra_seeds", 0)
    return f"{about['runs'] - extra} of {about.get('planned', about['runs'] - extra)} runs" + _plus_extra(extra)


def _plus_extra(extra: int) -> str:
    return f", plus {extra} extra seed{'' if extra == 1 else 's'}" if extra else ""


def label(profile: str = "cpu", suite: str = "tables", found: list[RunRecord] | None = None) -> str:
    """``reference (cpu profile, 3 seeds, x86_64 CPU ..., fp32, torch 2.14.1)`` for a table or figure. With
    ``found`` (the runs a table actually read) it counts those: a deleted or unreadable shipped run is
    then said, never hidden behind the provenance's count."""
    p = provenance(profile).get(suite)
    if p is None:
        return f"reference ({profile} profile): not shipped"
    planned = p.get("planned")
    if found is None:
        seeds = f"{len(PROFILES[profile].seeds)} seeds"
        at_seeds = p["runs"] - p.get("extra_seeds", 0)
        finished = "" if planned is None or at_seeds >= planned else f", {counted(p)} finished"
    else:
        seeds = f"seeds {', '.join(map(str, sorted({r.seed for r in found})))}"
        extra = sum(r.seed not in PROFILES[profile].seeds for r in found)
        finished = f", {len(found) - extra} runs read" + (f" of {planned} planned" if planned else "") + _plus_extra(extra)
        if len(found) != p["runs"]:
            finished += f" (its provenance lists {p['runs']}: shipped files are missing or were added by hand)"
    return f"reference ({profile} profile, {seeds}, {p['device']}, {p['precision']}, torch {p['torch']}{finished})"


def read(recipes: list[str] | None = None, variant: Profile | None = None, profile: str = "cpu"):
    """The shipped reference's runs of ``recipes`` (default: Tables 2 and 3) under ``variant``'s
    settings (default: the named profile; e.g. its metric-depth variant) as
    :class:`~mdseg.study.records.Results`, read in seconds (nothing trains)."""
    variant = variant or PROFILES[profile]
    results = read_recipes(variant, runs_root(variant, reference_root(profile)), recipes=recipes)
    results.title = f"Shipped {label(profile, 'tables', [r for done in results.runs.values() for r in done])}"
    return results


def shipped_folders(profile: str = "cpu") -> set[Path]:
    """Every run folder of the shipped reference (those holding a ``config.json``)."""
    return {p.parent for p in reference_root(profile).rglob(runs.CONFIG)}
