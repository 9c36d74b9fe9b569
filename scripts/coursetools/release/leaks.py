"""The leak check: nothing students get holds solution code, a hidden test or instructor text.

The release runs it on every skeleton repository and on the Classroom 50 entry (both public);
a failure stops the release with the file and the line that leaked.
"""

from __future__ import annotations

import json
from pathlib import Path

from coursetools.author.lessons import check_module, instructor_secrets
from coursetools.author.markers import find_regions
from coursetools.manifest import Course, Module
from coursetools.release.classroom import workflow_yaml
from coursetools.release.render import reference_file
from coursetools.release.student_tools import shipped_toolchain, toolchain_sources


class LeakError(RuntimeError):
    """A skeleton contains solution code or hidden tests."""


def assert_no_leaks(repo: Path, course: Course, module: Module) -> None:
    """Raise LeakError if any file of the repo holds a solution line, a hidden test or instructor text.

    Lines are compared as written and with a leading ``# `` removed (the lesson's prose and code
    examples are comments in the woven module file), so a lesson that shows a solution line is
    caught too; notebooks by their cells' text. The lesson's systems code counts as public.
    """
    secrets = _solution_lines(course, module)
    hidden = [(course.root / g.path).read_text(encoding="utf-8") for g in module.groups if g.hidden]
    lesson = check_module(course, module)
    taught = sorted(instructor_secrets(lesson)) if lesson else []
    if lesson:  # the systems measurement is meant for students; a line it shares with a solution is public
        secrets -= {line.strip() for line in lesson.systems_code.splitlines()}
    for path in repo.rglob("*"):
        if not path.is_file() or ".git" in path.parts:
            continue
        text = _readable_text(path)
        lines = {line.strip() for line in text.splitlines()}
        lines |= {line.removeprefix("#").strip() for line in lines if line.startswith("# ")}
        leaked = sorted(lines & secrets)
        if leaked:
            raise LeakError(f"{path.relative_to(repo)} contains solution code of module {module.number}: {leaked[0]!r}")
        for test_file in hidden:
            if test_file.strip() and test_file.strip() in text:
                raise LeakError(f"{path.relative_to(repo)} contains a hidden test file of module {module.number}")
        shown = [line for line in taught if line in text]
        if shown:
            raise LeakError(f"{path.relative_to(repo)} contains instructor text (a model answer or rubric) of "
                            f"{lesson.path.name}: {shown[0]!r}; it belongs between <!-- instructor --> markers")


def _readable_text(path: Path) -> str:
    """A file's text; for a notebook, its cells' sources one after another (JSON escapes undone)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(text).get("cells", [])
        except ValueError:
            return text
        return "\n".join("".join(c.get("source", "")) if isinstance(c.get("source"), list) else c.get("source", "")
                         for c in cells)
    return text


def _solution_lines(course: Course, module: Module) -> set[str]:
    """Distinctive lines of the module's solution regions (short or generic lines are ignored)."""
    public = _public_lines(course, module)
    secrets: set[str] = set()
    for relative in module.files:
        text = reference_file(course, relative).read_text(encoding="utf-8")
        public |= {line.strip() for line in _outside_regions(text)}
        for region in find_regions(text, relative):
            secrets |= {line.strip() for line in region.body(text).splitlines()}
    return {line for line in secrets - public if len(line) >= 12 and not line.startswith("#")}


def _public_lines(course: Course, module: Module) -> set[str]:
    """Lines students may see anyway: other modules' code, this module's visible tests, the shipped tools."""
    own = set(module.files)
    files = [p for p in (course.root / "reference" / "tinytorch").rglob("*.py")
             if p.relative_to(course.root / "reference").as_posix() not in own]
    files += [course.root / g.path for g in module.groups if not g.hidden]
    files += _tool_files(course)
    generated = workflow_yaml(course, module).splitlines()  # the Classroom workflow ships in every skeleton
    return {line.strip() for path in files for line in path.read_text(encoding="utf-8").splitlines()} | \
        {line.strip() for line in generated}


def _tool_files(course: Course) -> list[Path]:
    """The course code shipped under tools/ (also public in every grader bundle)."""
    scripts, runtime = toolchain_sources()
    return [scripts / relative for relative in shipped_toolchain(scripts)] + sorted(runtime.rglob("*.py"))


def _outside_regions(text: str) -> list[str]:
    lines = text.splitlines()
    inside: set[int] = set()
    for region in find_regions(text):
        inside.update(range(region.start_line - 1, region.end_line))
    return [line for i, line in enumerate(lines) if i not in inside]
