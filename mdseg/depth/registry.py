"""The depth teachers by name (which model, which depth convention), read without torch: settings
are checked against it before anything loads. The teachers themselves: :mod:`mdseg.depth.teachers`."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UnknownName


@dataclass(frozen=True)
class TeacherSpec:
    model_id: str | None
    convention: str  # "metric-depth" or "relative-inverse-depth"


TEACHERS: dict[str, TeacherSpec] = {
    "dpt-dinov2": TeacherSpec("facebook/dpt-dinov2-small-nyu", "metric-depth"),
    "dpt-dinov2-kitti": TeacherSpec("facebook/dpt-dinov2-small-kitti", "metric-depth"),
    "depth-anything-v2": TeacherSpec("depth-anything/Depth-Anything-V2-Small-hf", "relative-inverse-depth"),
    "simulated": TeacherSpec(None, "relative-inverse-depth"),
}


def teacher_spec(name: str) -> TeacherSpec:
    """The :data:`TEACHERS` entry of ``name``, with a clear error listing the teachers."""
    if name not in TEACHERS:
        raise UnknownName(f"Unknown teacher '{name}'. Teachers: {', '.join(TEACHERS)}.")
    return TEACHERS[name]
