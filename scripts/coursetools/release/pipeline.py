"""``make release-module MODULE=NN``: a module's skeleton repo, solution repo and grader bundles.

A release is an ordered list of small steps (each testable alone):
1. refuse a module that is not released in the manifest;
2. build the student skeleton (which checks itself for leaks) and commit it reproducibly on top of
   the previous release's commit (``coursetools.release.repos``);
3. build the solution repository (README marked as solutions), committed the same way;
4. build the grader bundles (they collect the expected test ids from the reference);
5. build the Otter bundle from the Gradescope bundle's folder (same tests, points, visibility);
6. write the Classroom 50 autograder entry (visible groups only, ``coursetools.release.classroom50``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from coursetools.author.lessons import lesson_path
from coursetools.manifest import Course, ManifestError, Module, load_course
from coursetools.release.bundle import build_bundles
from coursetools.release.classroom50 import build_classroom50_entry
from coursetools.release.otter import build_otter_bundle
from coursetools.release.repos import release_repo


class NotReleasedError(ManifestError):
    """The module is declared but planned, so there is nothing to release yet."""


def check_released(course: Course, module: Module) -> None:
    if not module.released:
        released = ", ".join(m.number for m in course.released()) or "none"
        raise NotReleasedError(
            f"module {module.number} ({module.slug}) is planned, not released, so it cannot be released yet; "
            f"released modules: {released}. Set status = \"released\" in reference/course.toml once its "
            "reference code and tests are complete."
        )


def release_module(course: Course, module: Module, dist: Path) -> dict[str, Path]:
    check_released(course, module)
    warn_without_lesson(course, module)
    outputs = {
        "skeleton": release_repo(course, module, dist / "skeletons" / module.dirname),
        "solution": release_repo(course, module, dist / "solutions" / module.dirname, with_solutions=True),
    }
    outputs.update(build_bundles(course, module, dist))
    outputs["otter"] = build_otter_bundle(course, module, outputs["gradescope_dir"])
    outputs["classroom50"] = build_classroom50_entry(course, module, outputs["gradescope_dir"], dist)
    return outputs


def warn_without_lesson(course: Course, module: Module) -> None:
    """Say so when the module's lesson is not written yet: its notebook is then code cells only."""
    path = lesson_path(course.root, module)
    if not path.is_file():
        print(f"warning: module {module.number} has no lesson yet ({path.relative_to(course.root)}); "
              "its notebook holds code cells only", file=sys.stderr)


def main(*, module: str | None = None, all: bool = False, dist: str = "dist") -> dict[str, dict[str, Path]]:
    """Release one module (``module="01"``) or every released one (``all=True``)."""
    course = load_course()
    if all:
        modules = course.released()
    elif module is not None:
        modules = [course.module(module)]
    else:
        raise ValueError("name a module (--module 01) or pass --all")
    written = {}
    for mod in modules:
        written[mod.number] = release_module(course, mod, Path(dist).resolve())
        for kind, path in written[mod.number].items():
            print(f"module {mod.number} {kind:>15}: {path}")
    return written
