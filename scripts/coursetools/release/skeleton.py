"""The files a student repository has beyond the rendered package and tests.

A student repository for module NN (``coursetools.release.pipeline.REPOSITORY`` builds it) holds
the tinytorch package with modules before NN complete, module NN as stubs (``render``), the
visible tests of NN, the student's tools (``student_tools``) and what this file writes:

- the module's files as jupytext percent-format scripts paired with ``notebooks/`` (see
  ``coursetools.tito.notebook``); when the module has a lesson (``reference/lessons/NN_slug.md``,
  see ``coursetools.author.lessons``) the module file is woven: the lesson's sections as markdown
  cells before the code cells they explain, its systems measurement as a notebook-only cell; the
  solution repository keeps the instructor blocks (model answers, rubrics), the skeleton never
  has them (``coursetools.release.leaks`` checks);
- files rendered from ``skeletons/`` (README, pyproject, .gitignore) and jupytext.toml;
- the GitHub Actions workflow (``coursetools.release.classroom``).
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from coursetools.author.lessons import check_module, lesson_path, weave
from coursetools.manifest import Course, Module
from coursetools.release.classroom import workflow_yaml
from coursetools.release.render import module_regions, render_file
from coursetools.tito.notebook import (JUPYTEXT_TOML, code_cells, notebook_for, percent_text, with_cell_markers,
                                       write_notebook)

TEMPLATES = {"README.md.j2": "README.md", "pyproject.toml.j2": "pyproject.toml", "gitignore.j2": ".gitignore"}
WORKFLOW = Path(".github") / "workflows" / "classroom.yml"


def render_templates(course: Course, module: Module, dest: Path) -> None:
    """README, pyproject (with the package list found in dest), .gitignore and jupytext.toml."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(course.root / "skeletons"),
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    variables = {
        **course.context(),
        "module": module,
        "regions": module_regions(course, module),
        "visible_groups": [g for g in module.groups if not g.hidden],
        "hidden_points": sum(g.points for g in module.groups if g.hidden),
        "packages": _packages(dest),
        "notebooks": [notebook_for(f) for f in module.files],
        "lesson": lesson_path(course.root, module).is_file(),
    }
    for template, target in TEMPLATES.items():
        (dest / target).write_text(env.get_template(template).render(variables), encoding="utf-8")
    (dest / "jupytext.toml").write_text(JUPYTEXT_TOML, encoding="utf-8")


def write_workflow(course: Course, module: Module, dest: Path) -> None:
    """The GitHub Actions workflow that grades the visible groups on every push."""
    workflow = dest / WORKFLOW
    workflow.parent.mkdir(parents=True, exist_ok=True)
    workflow.write_text(workflow_yaml(course, module), encoding="utf-8")


def woven(course: Course, module: Module, relative: str, text: str, *, instructor: bool) -> str:
    """A rendered module file in percent format, with the module's lesson woven in when it has one.

    The lesson goes into the module's first file (every module has one); other files, and modules
    whose lesson is not written yet, get one code cell per top-level definition.
    """
    lesson = check_module(course, module)
    if lesson is None or relative != module.files[0]:
        return with_cell_markers(text)
    return percent_text(weave(lesson, code_cells(text), instructor=instructor))


def starter_text(course: Course, module: Module, relative: str) -> str:
    """An owned file exactly as a fresh skeleton holds it (woven, stubs, no instructor text)."""
    return woven(course, module, relative, render_file(course, module, relative, "skeleton"), instructor=False)


def write_notebooks(course: Course, module: Module, dest: Path, *, instructor: bool) -> None:
    """Each owned file woven in percent format, and its paired notebook under notebooks/."""
    for relative in module.files:
        path = dest / relative
        path.write_text(woven(course, module, relative, path.read_text(encoding="utf-8"), instructor=instructor),
                        encoding="utf-8")
        write_notebook(path, dest / notebook_for(relative))


def _packages(dest: Path) -> list[str]:
    """Import packages of a student repository: tinytorch's (found) and the shipped tools."""
    found = sorted(p.parent.relative_to(dest).as_posix().replace("/", ".")
                   for p in (dest / "tinytorch").rglob("__init__.py"))
    tools = sorted(p.parent.relative_to(dest / "tools").as_posix().replace("/", ".")
                   for p in (dest / "tools").rglob("__init__.py"))
    return found + tools
