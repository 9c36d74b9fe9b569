"""Lessons (reference/lessons/NN_slug.md): every one follows the format, teaches in its woven
notebook, keeps its answers for instructors and measures its systems point on the reference.

Modules whose lesson is not written yet are skipped by the per-lesson tests (the release warns
about them); the format checker itself is tested on small lessons made here.
"""

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import pytest

from coursetools.author.lessons import (LessonError, check_lesson, check_module, instructor_secrets, lesson_path,
                                 parse_lesson, prose_words, strip_instructor)
from coursetools.author.markers import find_regions
from coursetools.manifest import load_course
from coursetools.release.render import render_file
from coursetools.release.skeleton import woven

ROOT = Path(__file__).resolve().parents[2]
COURSE = load_course(ROOT)
WITH_LESSON = [m for m in COURSE.released() if lesson_path(ROOT, m).is_file()]
IDS = [m.dirname for m in WITH_LESSON]
SYSTEMS_SECONDS = 10
MIN_MARKDOWN_CELLS = 5
MIN_NOTEBOOK_WORDS = 800


def woven_notebook(module, *, instructor: bool):
    """The module file as the release writes it (skeleton or solution), read back as a notebook."""
    relative = module.files[0]
    mode = "solution" if instructor else "skeleton"
    text = woven(COURSE, module, relative, render_file(COURSE, module, relative, mode), instructor=instructor)
    return text, jupytext.reads(text, fmt="py:percent")


def test_module_01_has_a_lesson():
    assert "01_tensor" in IDS


@pytest.mark.parametrize("module", WITH_LESSON, ids=IDS)
def test_lesson_follows_the_format(module):
    check_module(COURSE, module)


@pytest.mark.parametrize("module", WITH_LESSON, ids=IDS)
def test_skeleton_notebook_interleaves_the_lesson(module):
    _, notebook = woven_notebook(module, instructor=False)
    markdown = [c for c in notebook.cells if c.cell_type == "markdown"]
    code = [c for c in notebook.cells if c.cell_type == "code"]
    words = sum(prose_words(c.source) for c in markdown)
    assert len(markdown) >= MIN_MARKDOWN_CELLS and words >= MIN_NOTEBOOK_WORDS, (len(markdown), words)
    kinds = [c.cell_type for c in notebook.cells]
    first_code, last_code = kinds.index("code"), len(kinds) - 1 - kinds[::-1].index("code")
    assert "markdown" in kinds[first_code:last_code], "lesson text between the code cells, not only around them"
    assert len(code) >= 2


@pytest.mark.parametrize("module", WITH_LESSON, ids=IDS)
def test_instructor_text_only_in_the_solution(module):
    lesson = check_module(COURSE, module)
    secrets = instructor_secrets(lesson)
    assert secrets, "every lesson has model answers and rubrics"
    student, _ = woven_notebook(module, instructor=False)
    solution, _ = woven_notebook(module, instructor=True)
    assert not [line for line in secrets if line in student]
    assert all(line in solution for line in secrets)


@pytest.mark.parametrize("module", WITH_LESSON, ids=IDS)
def test_systems_cell_runs_only_in_the_notebook(module, tmp_path):
    """In the notebook the systems block is a live cell; in the .py (what tests import) it is comments."""
    lesson = check_module(COURSE, module)
    text, notebook = woven_notebook(module, instructor=True)
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and c.metadata.get("active") == "ipynb"]
    assert cell.source.strip() == lesson.systems_code.strip()
    for line in lesson.systems_code.splitlines():
        if line.strip():
            assert f"# {line}" in text
    script = tmp_path / Path(module.files[0]).name
    script.write_text(text)
    imported = f"import runpy; runpy.run_path({str(script)!r}, run_name='woven_module')"  # imported, not run as a script
    ran = subprocess.run([sys.executable, "-c", imported], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0 and ran.stdout == "", ran.stdout[-500:] + ran.stderr[-2000:]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("module", WITH_LESSON, ids=IDS)
def test_systems_point_runs_on_the_reference(module, tmp_path):
    lesson = check_module(COURSE, module)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-"], input=lesson.systems_code, cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=100)  # a hang guard only
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == 0, done.stderr[-3000:]
    assert any(ch.isdigit() for ch in done.stdout), "the systems point prints what it measured"
    # The contract is < 10 s on one idle core: CPU seconds, which other jobs on the machine do not stretch.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert cpu < 1.5 * SYSTEMS_SECONDS, f"{cpu:.1f} CPU seconds"


# ---------------------------------------------------------------------- the checker on small lessons
SOURCE = '''\
"""A tiny module."""
import numpy as np


def helper(x):
    #% solution
    return x
    #% endsolution


class Box:
    def open(self):
        #% solution
        return 1
        #% endsolution
'''
PROSE = " ".join(["word"] * 850)
GOOD = f"""# Module 42 · Boxes

## Learning objectives

- one
- two
- three
- four

## Helpers
<!-- before: helper -->

{PROSE}

### helper

Build it.

## Boxes
<!-- before: Box -->

### Box.open

Open it.

## Systems point: bytes
<!-- place: end -->

Expect bytes.

```python systems
print(8)
```

## Reflection questions
<!-- place: end -->

1. Why?
<!-- instructor -->
**Model answer.** Because the strides say so, every single time.
<!-- /instructor -->
2. How?
<!-- instructor -->
**Model answer.** With care and a worked example of two by two.
<!-- /instructor -->
3. When?
<!-- instructor -->
**Model answer.** Before the stub asks for it, as the format says.
<!-- /instructor -->

## What this unlocks
<!-- place: end -->

`milestones/01_1957_perceptron`.
"""


def check(text: str, tmp_path: Path) -> None:
    path = tmp_path / "42_boxes.md"
    path.write_text(text)
    check_lesson(parse_lesson(text, path), "42", SOURCE, find_regions(SOURCE, "tiny.py"))


def test_a_lesson_in_the_format_passes(tmp_path):
    check(GOOD, tmp_path)


@pytest.mark.parametrize("change, expected", [
    (lambda t: t.replace("<!-- before: helper -->", "<!-- before: nothing -->"), "names no top-level"),
    (lambda t: t.replace("<!-- before: Box -->", "<!-- before: helper -->").replace(
        "<!-- before: helper -->\n\n" + PROSE, "<!-- before: Box -->\n\n" + PROSE), "out of order"),
    (lambda t: t.replace("### Box.open", "### Box"), "no '### Box.open'"),
    (lambda t: t.replace("### helper\n\nBuild it.\n", "").replace("Open it.", "Open it.\n\n### helper"),
     "placed after the code cell of helper"),
    (lambda t: t.replace("<!-- /instructor -->\n2.", "2."), "instructor block opened inside"),
    (lambda t: t.replace("```python systems", "```python"), "'```python systems' blocks"),
    (lambda t: t.replace("- four\n", ""), "3 objectives"),
    (lambda t: t.replace(PROSE, "short"), "words of prose"),
    (lambda t: t.replace("## Systems point: bytes\n<!-- place: end -->", "## Systems point: bytes"), "place: end"),
    (lambda t: t.replace("3. When?\n<!-- instructor -->", "3. When?\n\n4. Where?\n<!-- instructor -->"),
     "without its instructor block"),
    (lambda t: t.replace("# Module 42", "# Module 41"), "must start with 'Module 42'"),
])
def test_each_broken_rule_is_named_with_file_and_line(tmp_path, change, expected):
    broken = change(GOOD)
    assert broken != GOOD
    with pytest.raises(LessonError) as error:
        check(broken, tmp_path)
    assert expected in str(error.value) and "42_boxes.md:" in str(error.value)


def test_strip_instructor_removes_answers_and_keeps_questions():
    stripped = strip_instructor(GOOD)
    assert "Model answer" not in stripped and "1. Why?" in stripped and "<!-- instructor -->" not in stripped
    assert prose_words("word `code` $x^2$\n```\nnot prose\n```\n<!-- instructor -->\nsecret\n<!-- /instructor -->") == 2


def test_a_module_without_a_lesson_keeps_code_cells_and_the_release_warns(monkeypatch, capsys):
    import coursetools.release.skeleton as skeleton
    from coursetools.release.pipeline import Release, warn_without_lesson
    from coursetools.tito.notebook import with_cell_markers

    module = COURSE.module("01")
    text = render_file(COURSE, module, module.files[0], "skeleton")
    monkeypatch.setattr(skeleton, "check_module", lambda course, mod: None)
    assert skeleton.woven(COURSE, module, module.files[0], text, instructor=False) == with_cell_markers(text)
    monkeypatch.setattr("coursetools.release.pipeline.lesson_path", lambda root, mod: root / "reference" / "lessons" / "99_none.md")
    warn_without_lesson(Release(COURSE, module, COURSE.root / "dist"))
    assert "module 01 has no lesson yet (reference/lessons/99_none.md)" in capsys.readouterr().err
