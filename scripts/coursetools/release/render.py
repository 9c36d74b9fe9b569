"""Render a module's reference sources into a tree: the base every release output is built on.

The skeleton and solution repositories, the grader bundles and the nbgrader export all start
from the same two moves: ``write_package`` (tinytorch/ with earlier modules solved and this one
as stubs, as solution or left out) and ``copy_tests`` (the root conftest and the module's test
files). ``PYTEST_INI`` is the grader's own pytest configuration, in bundle trees and in the
student's local grader alike.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from coursetools.author.markers import Region, find_regions, render
from coursetools.manifest import Course, Module

PYTEST_INI = """\
[pytest]
# The grader's own configuration: nothing from a submission can change it.
addopts = -p no:cacheprovider
"""


def module_label(module: Module) -> str:
    return f"Module {module.number} ({module.slug})"


def reference_file(course: Course, relative: str) -> Path:
    return course.root / "reference" / relative


def module_regions(course: Course, module: Module) -> list[Region]:
    """Every solution region of the module's files, in file order."""
    regions: list[Region] = []
    for relative in module.files:
        regions.extend(find_regions(reference_file(course, relative).read_text(encoding="utf-8"), relative))
    return regions


def render_file(course: Course, module: Module, relative: str, mode: str, stub_only: set[str] | None = None) -> str:
    text = reference_file(course, relative).read_text(encoding="utf-8")
    return render(text, mode=mode, path=relative, module_label=module_label(module),
                  context=course.context(), stub_only=stub_only)


def write_package(course: Course, module: Module, dest: Path, *, own_mode: str | None) -> None:
    """Write tinytorch/ into dest: earlier modules solved, this one in own_mode (None: left out).

    Package ``__init__.py`` files and any file no module owns are copied as rendered solutions.
    """
    owned_by = {f: m for m in course.modules for f in m.files}
    source_root = course.root / "reference"
    for path in sorted((source_root / "tinytorch").rglob("*.py")):
        relative = path.relative_to(source_root).as_posix()
        owner = owned_by.get(relative)
        if owner is None:
            mode, who = "solution", module
        elif owner.number < module.number:
            mode, who = "solution", owner
        elif owner.number == module.number and own_mode:
            mode, who = own_mode, module
        else:
            continue
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_file(course, who, relative, mode), encoding="utf-8")


def copy_tests(course: Course, module: Module, dest: Path, *, hidden: bool) -> None:
    """The root conftest and the module's test files (visible; hidden too when asked)."""
    shutil.copyfile(course.root / "conftest.py", dest / "conftest.py")
    for group in module.groups:
        if group.hidden and not hidden:
            continue
        target = dest / group.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(course.root / group.path, target)
