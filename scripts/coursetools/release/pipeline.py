"""``make release-module MODULE=NN``: a release is an ordered list of small named steps.

``RELEASE`` reads as the table of contents of what a release does; each step is a short function
of a ``Release`` (the course, the module, ``dist/`` and the outputs written so far). The two
repositories are built by the steps of ``REPOSITORY``, each a function of a ``Repository`` (the
folder being written and whether it is the solutions twin), then committed reproducibly on top
of the previous release's commit (``coursetools.release.repos``). A step is testable alone, and
a new output is a new step in the list.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from coursetools.author.lessons import lesson_path
from coursetools.manifest import Course, ManifestError, Module, load_course
from coursetools.release import repos
from coursetools.release.bundle import build_bundles
from coursetools.release.classroom50 import build_classroom50_entry
from coursetools.release.leaks import assert_no_leaks
from coursetools.release.otter import build_otter_bundle
from coursetools.release.render import copy_tests, write_package
from coursetools.release.skeleton import render_templates, write_notebooks, write_workflow
from coursetools.release.student_tools import write_tito


class NotReleasedError(ManifestError):
    """The module is declared but planned, so there is nothing to release yet."""


@dataclass
class Release:
    """What the steps of one module's release share; ``outputs`` maps each output's kind to its path."""

    course: Course
    module: Module
    dist: Path
    outputs: dict[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class Repository:
    """One student repository being written: the skeleton, or (with_solutions) its solutions twin."""

    course: Course
    module: Module
    dest: Path
    with_solutions: bool

    @property
    def message(self) -> str:
        kind = "solutions" if self.with_solutions else "starter code"
        return f"{self.course.name} module {self.module.number} ({self.module.title}): {kind}"


# ---------------------------------------------------------------------- the repository steps
def empty_folder(repo: Repository) -> None:
    if repo.dest.exists():
        shutil.rmtree(repo.dest)
    repo.dest.mkdir(parents=True)


def render_package(repo: Repository) -> None:
    """tinytorch/: earlier modules solved, this one as stubs (the solutions twin: solved)."""
    write_package(repo.course, repo.module, repo.dest, own_mode="solution" if repo.with_solutions else "skeleton")


def copy_visible_tests(repo: Repository) -> None:
    copy_tests(repo.course, repo.module, repo.dest, hidden=False)


def ship_student_tools(repo: Repository) -> None:
    """tools/ (tito and the grader runtime) and .tito/ (manifest slice, local grader, starter files)."""
    write_tito(repo.course, repo.module, repo.dest)


def weave_lesson_into_notebooks(repo: Repository) -> None:
    """The module's files woven with its lesson, paired with notebooks/ (instructor text: solutions only)."""
    write_notebooks(repo.course, repo.module, repo.dest, instructor=repo.with_solutions)


def render_repository_templates(repo: Repository) -> None:
    render_templates(repo.course, repo.module, repo.dest)


def write_grading_workflow(repo: Repository) -> None:
    write_workflow(repo.course, repo.module, repo.dest)


def check_skeleton_has_no_leaks(repo: Repository) -> None:
    if not repo.with_solutions:
        assert_no_leaks(repo.dest, repo.course, repo.module)


def mark_solutions_readme(repo: Repository) -> None:
    if repo.with_solutions:
        repos.mark_solutions(repo.dest, f"{repo.course.name} module {repo.module.number} ({repo.module.title})")


REPOSITORY: tuple[Callable[[Repository], None], ...] = (
    empty_folder,
    render_package,
    copy_visible_tests,
    ship_student_tools,
    weave_lesson_into_notebooks,
    render_repository_templates,
    write_grading_workflow,
    check_skeleton_has_no_leaks,
    mark_solutions_readme,
)
"""Order matters twice: the templates list the packages found under tinytorch/ and tools/, and the
leak check reads everything written before it."""


def release_repository(course: Course, module: Module, dest: Path, *, with_solutions: bool = False) -> Path:
    """Write a student (or solutions) repository into dest with ``REPOSITORY`` and commit it on its history."""
    repo = Repository(course, module, Path(dest), with_solutions)
    return repos.commit_on_history(repo.dest, repo.message, lambda: run(REPOSITORY, repo))


# ---------------------------------------------------------------------- the release steps
def refuse_planned_module(release: Release) -> None:
    check_released(release.course, release.module)


def check_released(course: Course, module: Module) -> None:
    if not module.released:
        released = ", ".join(m.number for m in course.released()) or "none"
        raise NotReleasedError(
            f"module {module.number} ({module.slug}) is planned, not released, so it cannot be released yet; "
            f"released modules: {released}. Set status = \"released\" in reference/course.toml once its "
            "reference code and tests are complete."
        )


def warn_without_lesson(release: Release) -> None:
    """Say so when the module's lesson is not written yet: its notebook is then code cells only."""
    course, module = release.course, release.module
    path = lesson_path(course.root, module)
    if not path.is_file():
        print(f"warning: module {module.number} has no lesson yet ({path.relative_to(course.root)}); "
              "its notebook holds code cells only", file=sys.stderr)


def skeleton_repository(release: Release) -> None:
    dest = release.dist / "skeletons" / release.module.dirname
    release.outputs["skeleton"] = release_repository(release.course, release.module, dest)


def solutions_repository(release: Release) -> None:
    dest = release.dist / "solutions" / release.module.dirname
    release.outputs["solution"] = release_repository(release.course, release.module, dest, with_solutions=True)


def gradescope_bundle(release: Release) -> None:
    """gradescope.zip and its unzipped folder (the expected test ids collected on the reference)."""
    release.outputs.update(build_bundles(release.course, release.module, release.dist))


def otter_bundle(release: Release) -> None:
    """otter.zip, from the Gradescope bundle's folder (same tests, points, visibility)."""
    release.outputs["otter"] = build_otter_bundle(release.course, release.module, release.outputs["gradescope_dir"])


def classroom50_entry(release: Release) -> None:
    """The Classroom 50 autograder folder (visible groups only)."""
    release.outputs["classroom50"] = build_classroom50_entry(release.course, release.module,
                                                             release.outputs["gradescope_dir"], release.dist)


RELEASE: tuple[Callable[[Release], None], ...] = (
    refuse_planned_module,
    warn_without_lesson,
    skeleton_repository,
    solutions_repository,
    gradescope_bundle,
    otter_bundle,
    classroom50_entry,
)


def run(steps, context) -> None:
    for step in steps:
        step(context)


def release_module(course: Course, module: Module, dist: Path) -> dict[str, Path]:
    """Run ``RELEASE`` for one module; returns its outputs (skeleton, solution, gradescope, ...)."""
    release = Release(course, module, Path(dist))
    run(RELEASE, release)
    return release.outputs


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
