"""Mutants that course authors marked as equivalent: they cannot change any observable result.

``validation/NN_slug/equivalent.toml`` holds one table per mark::

    [[mutant]]
    id = "tinytorch/core/tensor.py::Tensor.sum::NumberReplacer::..."   # as printed by make validate
    reason = "axis=None and axis=() reduce the same way here"

A marked mutant that survives is reported as equivalent and leaves the mutation score's
denominator. A mark whose id no longer matches any mutant is reported as stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from coursetools.manifest import Course, Module


class EquivalentMarkError(ValueError):
    """A malformed mark; the message names the file and the fix."""


def marks_file(course: Course, module: Module) -> Path:
    return course.root / "validation" / module.dirname / "equivalent.toml"


def load_marks(course: Course, module: Module) -> dict[str, str]:
    """{mutant id: reason} for the module (empty when it has no file)."""
    path = marks_file(course, module)
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise EquivalentMarkError(f"{path}: {error}") from None
    marks: dict[str, str] = {}
    for number, entry in enumerate(data.get("mutant", []), start=1):
        mutant_id, reason = entry.get("id", ""), str(entry.get("reason", "")).strip()
        if not mutant_id or not reason:
            raise EquivalentMarkError(f"{path}: mark {number} needs both 'id' and a non-empty 'reason' "
                                      "(why no test can tell the mutant from the reference)")
        if mutant_id in marks:
            raise EquivalentMarkError(f"{path}: mutant {mutant_id!r} is marked twice; keep one mark")
        marks[mutant_id] = reason
    return marks
