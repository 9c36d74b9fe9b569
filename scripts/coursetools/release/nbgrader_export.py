"""Export a module as an nbgrader assignment, for courses that run on JupyterHub.

``python -m coursetools nbgrader --module 01`` writes an nbgrader course folder (``dist/nbgrader/``)::

    nbgrader_config.py               course-wide settings (cell timeout, stubs)
    source/01_tensor/01_tensor.ipynb the instructor's version: solutions, all tests, model answers
    source/01_tensor/tinytorch/      earlier modules, solved (what the notebook imports)
    source/01_tensor/conftest.py     the course's fixtures (rng, gradcheck)
    source/01_tensor/tinytorch_nbgrader.py  runs a test cell's pytest tests (coursetools.release.nbgrader_kernel)

The notebook follows the module file and its lesson, like the skeleton notebook: the lesson's
sections as markdown cells before the code they explain, then one test cell per manifest group,
then the systems point, the reflection questions and what the module unlocks.

- Every solution region (``#% solution`` ... ``#% endsolution``) becomes ``### BEGIN SOLUTION`` /
  ``### END SOLUTION`` in an nbgrader solution cell; its hint stays above it as a comment.
- Every test group becomes an autograded, locked cell worth the group's points. The cell holds the
  group's test file verbatim under ``%%tinytorch_tests``, which runs it with pytest in the kernel
  against the notebook's code (see ``coursetools.release.nbgrader_kernel`` for why pytest and not asserts).
  A hidden group's source sits between ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``, so
  ``nbgrader generate_assignment`` strips it and ``nbgrader autograde`` puts it back.
- A timed group gets its ``max_ratio``; one that compares with ``reference_module`` carries the
  module's reference copy after its tests, inside the hidden region (only the source has it).
- Every reflection question gets a manually graded markdown answer cell, worth the top mark its
  rubric names ("3 pts: ..."); the model answer and rubric sit in its solution region, so only the
  source version has them.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from coursetools.author.lessons import (INSTRUCTOR_CLOSE, INSTRUCTOR_OPEN, QUESTION, REFLECTION, Lesson, Section,
                                 check_module, lesson_path, slots, split_systems, top_level_names, weave)
from coursetools.author.markers import Region, find_regions, render
from coursetools.manifest import Course, Group, Module, load_course
from coursetools.release.render import module_label, reference_file, render_file, write_package
from coursetools.tito.notebook import KERNEL, code_cells

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
SCHEMA_VERSION = 3
KERNEL_HELPER = "tinytorch_nbgrader.py"
"""What ``coursetools/release/nbgrader_kernel.py`` is called inside an assignment."""
REFERENCE_COPY = "# ---- reference copy: {path} ----"
"""Starts a reference file after a hidden group's tests (read by ``nbgrader_kernel.split_references``)."""
RUBRIC_POINTS = re.compile(r"(\d+)\s*pts?\b")
CONFIG_HEADER = "# Written by `python -m coursetools nbgrader`"


class ExportError(ValueError):
    """The module cannot be exported; the message names what is missing and the fix."""


@dataclasses.dataclass(frozen=True)
class Question:
    """One reflection question of a lesson and its instructor block."""

    number: int
    text: str
    """The question as students read it (markdown)."""
    answer: str
    """The model answer and rubric (instructor text)."""
    points: int
    """The rubric's top mark."""


# ---------------------------------------------------------------------- command line
def main(*, module: str, dest: str = "dist/nbgrader") -> Path:
    """Export one module into the nbgrader course folder ``dest``; returns the assignment folder."""
    course = load_course()
    folder = export_module(course, course.module(module), Path(dest).resolve())
    print(f"wrote {folder} (nbgrader assignment {folder.name}); next: cd {folder.parent.parent} && "
          f"nbgrader generate_assignment {folder.name}")
    return folder


def export_module(course: Course, module: Module, course_dir: Path) -> Path:
    """Write ``source/NN_slug/`` (replaced whole) and, unless an instructor's own is there, the config."""
    assignment = course_dir / "source" / module.dirname
    notebook = module_notebook(course, module)
    if assignment.exists():
        shutil.rmtree(assignment)
    assignment.mkdir(parents=True)
    nbformat.write(notebook, assignment / f"{module.dirname}.ipynb")
    write_package(course, module, assignment, own_mode=None)
    shutil.copyfile(course.root / "conftest.py", assignment / "conftest.py")
    shutil.copyfile(Path(__file__).with_name("nbgrader_kernel.py"), assignment / KERNEL_HELPER)
    write_config(course, course_dir / "nbgrader_config.py")
    return assignment


def write_config(course: Course, path: Path) -> None:
    """nbgrader_config.py; a file the instructor wrote (no generated header) is left as it is."""
    if path.exists() and not path.read_text(encoding="utf-8").startswith(CONFIG_HEADER):
        print(f"kept {path}: it was not written by this command")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config_text(course), encoding="utf-8")


def config_text(course: Course) -> str:
    """The course's nbgrader settings.

    A cell may take as long as a module's whole grading budget. Feedback drops the hidden regions:
    nbgrader's default feedback shows the autograded notebook whole, which would hand students the
    hidden tests and, in timed groups, the reference copy (the solution).
    """
    timeout = int(max(module.budget for module in course.modules))
    return (f"{CONFIG_HEADER}; edit freely (delete this first line to keep your edits).\n"
            "from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor\n"
            "from nbgrader.preprocessors import ClearHiddenTests, GetGrades\n\n"
            "c = get_config()  # noqa: F821 - nbgrader defines get_config\n"
            f'c.CourseDirectory.course_id = "{course.name.lower()}"\n'
            f"c.Execute.timeout = {timeout}  # seconds per cell; a test cell runs a whole test group\n"
            'c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}\n'
            'c.ClearSolutions.text_stub = "YOUR ANSWER HERE"\n'
            "# feedback without the hidden tests and reference copies (the hidden groups' results stay)\n"
            "c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]\n")


# ---------------------------------------------------------------------- the notebook
def module_notebook(course: Course, module: Module) -> nbformat.NotebookNode:
    """The source (instructor) notebook of a module, nbgrader metadata on its graded cells."""
    lesson = check_module(course, module)
    if lesson is None:
        raise ExportError(f"module {module.number} has no lesson yet ({lesson_path(course.root, module).name} in "
                          "reference/lessons/); the nbgrader notebook is built from it")
    if len(module.files) != 1:
        raise ExportError(f"module {module.number} owns {len(module.files)} files; the nbgrader export makes one "
                          "notebook from one module file")
    source = solution_source(course, module, module.files[0])
    cells = code_cells(source)
    front, end = _split_sections(lesson, top_level_names(source))
    woven = weave(dataclasses.replace(lesson, sections=front), cells, instructor=False)
    made = [_cell(woven[0]), setup_cell(module)] + [_cell(cell) for cell in woven[1:]]
    made += test_cells(course, module)
    for section in end:
        made += end_section_cells(lesson, section)
    notebook = new_notebook(cells=made)
    notebook.metadata["kernelspec"] = dict(KERNEL)
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def solution_source(course: Course, module: Module, relative: str) -> str:
    """The module file with nbgrader's solution delimiters in place of the course's markers.

    Each region's marker lines become ``### BEGIN SOLUTION`` / ``### END SOLUTION`` at the region's
    indentation, with a comment naming the region (and its hint) just above; any other Jinja in
    the file (per-term variations) is then rendered as for the solution repository.
    """
    text = reference_file(course, relative).read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    for region in reversed(find_regions(text, relative)):
        indent = _indentation(region.body(text))
        lines[region.end_line - 1] = f"{indent}{END_SOLUTION}\n"
        lines[region.start_line - 1] = "".join(f"{indent}{line}\n" for line in _region_header(region))
    return render("".join(lines), mode="solution", path=relative, module_label=module_label(module),
                  context=course.context())


def _indentation(code: str) -> str:
    """The leading whitespace of the first non-blank line."""
    first = next((line for line in code.splitlines() if line.strip()), "")
    return first[: len(first) - len(first.lstrip())]


def _region_header(region: Region) -> list[str]:
    header = [f"# TODO: implement '{region.name}'."]
    if region.hint:
        header.append(f"# HINT: {region.hint}")
    return header + [BEGIN_SOLUTION]


def _split_sections(lesson: Lesson, names: list[str]) -> tuple[tuple[Section, ...], tuple[Section, ...]]:
    """The sections placed among the code cells, and those placed after the last one."""
    placed = slots(lesson, names)
    front = tuple(s for s, slot in zip(lesson.sections, placed) if slot <= len(names))
    end = tuple(s for s, slot in zip(lesson.sections, placed) if slot > len(names))
    return front, end


def _cell(cell) -> nbformat.NotebookNode:
    """A woven cell as nbformat; a code cell holding a solution region becomes an nbgrader solution cell."""
    if cell.kind == "markdown":
        return new_markdown_cell(cell.source)
    made = new_code_cell(cell.source)
    if BEGIN_SOLUTION in cell.source:
        name = cell.names[0] if cell.names else "preamble"
        made.metadata["nbgrader"] = _metadata(f"solution_{name}", solution=True)
    return made


def _metadata(grade_id: str, *, grade: bool = False, solution: bool = False, locked: bool = False,
              points: float | None = None) -> dict:
    meta = {"grade": grade, "solution": solution, "locked": locked, "grade_id": grade_id,
            "schema_version": SCHEMA_VERSION}
    if points is not None:
        meta["points"] = points
    return meta


def setup_cell(module: Module) -> nbformat.NotebookNode:
    """The locked cell that lets the test cells run pytest against this notebook's code."""
    helper = KERNEL_HELPER.removesuffix(".py")
    cell = new_code_cell(f"# Read-only: lets the test cells below run the course's tests against the code of this "
                         f"notebook,\n# which they import as {module.package}.\n"
                         f"import {helper}\n{helper}.setup({module.package!r})")
    cell.metadata["nbgrader"] = _metadata("setup", locked=True)
    return cell


# ---------------------------------------------------------------------- tests
def test_cells(course: Course, module: Module) -> list[nbformat.NotebookNode]:
    """A heading and one autograded cell per manifest group, in manifest order."""
    total = module.max_points
    hidden = sum(g.points for g in module.groups if g.hidden)
    text = (f"## Tests\n\nEach cell below runs one graded group of this module's tests ({total:g} points in all) "
            "against the code above; run it after the code cells. A cell that passes in full says so; otherwise it "
            "shows pytest's failures and, as its value, the points earned (a group's points are split evenly over "
            "its tests).")
    if hidden:
        text += (f" Hidden groups ({hidden:g} points) show only their heading here: their tests run when your "
                 "notebook is graded.")
    intro = new_markdown_cell(text)
    return [intro] + [group_cell(course, module, group) for group in module.groups]


def group_cell(course: Course, module: Module, group: Group) -> nbformat.NotebookNode:
    """``%%tinytorch_tests test_<group>.py --points P`` and the group's test file (hidden: between delimiters).

    A timed group also gets ``--max-ratio``; one that loads ``reference_module`` carries the module's
    reference copies after its tests, which is allowed only inside a hidden region.
    """
    path = course.root / group.path
    source = path.read_text(encoding="utf-8").rstrip()
    if re.search(r"\breference_module\b", source):
        if not group.hidden:
            raise ExportError(f"{group.path} is visible but loads reference_module: its nbgrader cell would hand "
                              "students the reference; make the group hidden in reference/course.toml")
        for relative in module.files:
            reference = render_file(course, module, relative, "solution").rstrip()
            source += f"\n{REFERENCE_COPY.format(path=relative)}\n{reference}"
    shown = "hidden until grading" if group.hidden else "visible"
    ratio = f" --max-ratio {group.max_ratio:g}" if group.max_ratio is not None else ""
    header = (f"%%tinytorch_tests {path.name} --points {group.points:g}{ratio}\n"
              f"# {group.title} ({group.points:g} points, {shown})\n")
    body = f"{BEGIN_HIDDEN}\n{source}\n{END_HIDDEN}" if group.hidden else source
    cell = new_code_cell(header + body)
    cell.metadata["nbgrader"] = _metadata(f"test_{group.name}", grade=True, locked=True, points=group.points)
    return cell


# ---------------------------------------------------------------------- end sections
def end_section_cells(lesson: Lesson, section: Section) -> list[nbformat.NotebookNode]:
    """Cells of a section placed after the code: systems point, reflection questions, what it unlocks."""
    if section.is_systems:
        before, code, after = split_systems(section, instructor=False)
        return [new_markdown_cell(before), new_code_cell(code)] + ([new_markdown_cell(after)] if after else [])
    if section.title.startswith(REFLECTION):
        return reflection_cells(lesson, section)
    return [new_markdown_cell(section.markdown(instructor=False))]


def reflection_cells(lesson: Lesson, section: Section) -> list[nbformat.NotebookNode]:
    """The heading, then per question its text and a manually graded answer cell."""
    intro, questions = reflection_questions(lesson, section)
    points = sum(q.points for q in questions)
    cells = [new_markdown_cell(f"## {section.title}\n\n{intro}\n\nAnswer each question in the cell below it "
                               f"({points} points in all, graded by hand).".replace("\n\n\n\n", "\n\n"))]
    for question in questions:
        answer = new_markdown_cell(f"{BEGIN_SOLUTION}\n{question.answer.strip()}\n{END_SOLUTION}")
        answer.metadata["nbgrader"] = _metadata(f"reflection_{question.number}", grade=True, solution=True,
                                                points=question.points)
        cells += [new_markdown_cell(question.text), answer]
    return cells


def reflection_questions(lesson: Lesson, section: Section) -> tuple[str, list[Question]]:
    """The section's text before the first question, and its questions with their instructor blocks."""
    intro: list[str] = []
    found: list[dict] = []
    inside = False
    for line in section.body:
        stripped = line.strip()
        if stripped == INSTRUCTOR_OPEN:
            inside = True
        elif stripped == INSTRUCTOR_CLOSE:
            inside = False
        elif inside:
            found[-1]["answer"].append(line)
        elif QUESTION.match(stripped):
            found.append({"text": [line], "answer": []})
        elif found:
            found[-1]["text"].append(line)
        else:
            intro.append(line)
    return "\n".join(intro).strip(), [_question(lesson, i, q) for i, q in enumerate(found, start=1)]


def _question(lesson: Lesson, number: int, raw: dict) -> Question:
    answer = "\n".join(raw["answer"]).strip()
    marks = [int(found) for found in RUBRIC_POINTS.findall(answer)]
    if not marks:
        raise ExportError(f"{lesson.path}: reflection question {number} has a rubric naming no points; write "
                          "'**Rubric.** 2 pts: ...; 1 pt: ...; 0: ...' in its instructor block")
    return Question(number=number, text="\n".join(raw["text"]).strip(), answer=answer, points=max(marks))
