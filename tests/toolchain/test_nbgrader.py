"""The nbgrader export: the source notebook's cells and metadata, the kernel-side test runner, and
a real nbgrader round trip (generate_assignment, autograde of the solution and of the release,
generate_feedback without the hidden tests)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

from coursetools.author.lessons import instructor_blocks, load_lesson  # noqa: E402
from coursetools.release.leaks import assert_no_leaks  # noqa: E402
from coursetools.release.nbgrader_export import (BEGIN_HIDDEN, BEGIN_SOLUTION, CONFIG_HEADER, END_HIDDEN,  # noqa: E402
                                         END_SOLUTION, KERNEL_HELPER, REFERENCE_COPY, export_module,
                                         module_notebook, write_config)
from coursetools.release.render import module_regions, render_file  # noqa: E402

def round_trip_modules() -> list[str]:
    """Module 01 by default (about a minute); TINYTORCH_NBGRADER_MODULES="02 09" or "all" (every
    released module, about 40 s each) for the others."""
    chosen = os.environ.get("TINYTORCH_NBGRADER_MODULES", "01").split()
    if chosen == ["all"]:
        from coursetools.manifest import load_course

        return [m.number for m in load_course(Path(__file__).resolve().parents[2]).released()]
    return chosen


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def cells_by_id(notebook) -> dict:
    return {nbgrader_meta(c)["grade_id"]: c for c in notebook.cells if "grade_id" in nbgrader_meta(c)}


@pytest.fixture(scope="module")
def tensor_notebook(course):
    return module_notebook(course, course.module("01"))


# ---------------------------------------------------------------------- the source notebook
def test_every_solution_region_is_a_solution_region_of_an_unlocked_ungraded_cell(course, tensor_notebook):
    regions = module_regions(course, course.module("01"))
    solution_cells = [c for c in tensor_notebook.cells if BEGIN_SOLUTION in c.source and c.cell_type == "code"]
    text = "\n".join(c.source for c in solution_cells)
    assert text.count(BEGIN_SOLUTION) == text.count(END_SOLUTION) == len(regions)
    for region in regions:
        assert f"# TODO: implement '{region.name}'." in text
    for cell in solution_cells:
        meta = nbgrader_meta(cell)
        assert (meta["solution"], meta["grade"], meta["locked"], meta["schema_version"]) == (True, False, False, 3)
    assert not any(BEGIN_SOLUTION in c.source for c in tensor_notebook.cells
                   if c.cell_type == "code" and not nbgrader_meta(c).get("solution"))


def test_every_module_exports_with_every_region_marked_and_the_manifests_points(course):
    for module in course.released():
        notebook = module_notebook(course, module)
        code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
        regions = module_regions(course, module)
        assert code.count(BEGIN_SOLUTION) == code.count(END_SOLUTION) == len(regions), module.number
        autograded = sum(nbgrader_meta(c).get("points", 0) for c in notebook.cells
                         if nbgrader_meta(c).get("grade") and c.cell_type == "code")
        assert autograded == module.max_points, module.number


def test_lesson_sections_come_before_the_code_they_explain(tensor_notebook):
    sources = [c.source for c in tensor_notebook.cells]
    first_code = next(i for i, c in enumerate(tensor_notebook.cells) if c.cell_type == "code")
    assert sources[0].startswith("# Module 01")
    assert tensor_notebook.cells[first_code].source.splitlines()[-1].startswith(f"{KERNEL_HELPER[:-3]}.setup(")
    tensor_cell = next(i for i, s in enumerate(sources) if s.startswith("class Tensor:"))
    guidance = next(i for i, s in enumerate(sources) if "### Tensor.__add__" in s)
    tests = next(i for i, s in enumerate(sources) if s.startswith("## Tests"))
    systems = next(i for i, s in enumerate(sources) if s.startswith("## Systems point"))
    assert guidance < tensor_cell < tests < systems


def test_one_locked_autograded_cell_per_group_with_the_manifests_points(course, tensor_notebook):
    module, cells = course.module("01"), cells_by_id(tensor_notebook)
    for group in module.groups:
        cell = cells[f"test_{group.name}"]
        meta = nbgrader_meta(cell)
        assert (meta["grade"], meta["solution"], meta["locked"], meta["points"]) == (True, False, True, group.points)
        first, _, body = cell.source.partition("\n")
        assert first == f"%%tinytorch_tests test_{group.name}.py --points {group.points:g}"
        test_source = (course.root / group.path).read_text(encoding="utf-8").rstrip()
        hidden_region = re.search(rf"{re.escape(BEGIN_HIDDEN)}\n(.*)\n{re.escape(END_HIDDEN)}", body, re.S)
        if group.hidden:
            assert hidden_region and hidden_region.group(1) == test_source
        else:
            assert not hidden_region and body.endswith(test_source)
    graded = sum(nbgrader_meta(c)["points"] for c in tensor_notebook.cells
                 if nbgrader_meta(c).get("grade") and c.cell_type == "code")
    assert graded == module.max_points


def test_reflection_questions_get_hand_graded_answer_cells_holding_model_answer_and_rubric(course, tensor_notebook):
    lesson = load_lesson(course.root, course.module("01"))
    blocks = instructor_blocks("\n".join(lesson.section("Reflection questions").body))
    answers = [c for c in tensor_notebook.cells if nbgrader_meta(c).get("grade_id", "").startswith("reflection_")]
    assert len(answers) == len(blocks) >= 3
    for cell, block in zip(answers, blocks):
        meta = nbgrader_meta(cell)
        assert cell.cell_type == "markdown" and meta["solution"] and meta["grade"]
        assert cell.source == f"{BEGIN_SOLUTION}\n{block.strip()}\n{END_SOLUTION}"
        assert meta["points"] == max(int(n) for n in re.findall(r"(\d+)\s*pts?\b", block))
    outside = "\n".join(c.source for c in tensor_notebook.cells if c not in answers)
    assert not any(line.strip() in outside for block in blocks for line in block.splitlines() if len(line) > 30)


def test_export_writes_the_assignment_folder_and_keeps_an_instructors_config(course, tmp_path):
    folder = export_module(course, course.module("02"), tmp_path)
    assert folder == tmp_path / "source" / "02_activations"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["02_activations.ipynb", "conftest.py", KERNEL_HELPER, "tinytorch"])
    assert (folder / "tinytorch" / "core" / "tensor.py").is_file()  # module 01, solved
    assert not (folder / "tinytorch" / "core" / "activations.py").exists()  # the notebook is that file
    assert (tmp_path / "nbgrader_config.py").read_text().startswith(CONFIG_HEADER)
    mine = tmp_path / "nbgrader_config.py"
    mine.write_text("c = get_config()\nc.Execute.timeout = 5\n")
    write_config(course, mine)
    assert mine.read_text() == "c = get_config()\nc.Execute.timeout = 5\n"


def test_the_command_line_writes_the_course_folder_and_names_a_bad_module(tmp_path, capsys):
    from coursetools import cli

    cli.main(["nbgrader", "--module", "1", "--dest", str(tmp_path / "course")])
    assert (tmp_path / "course" / "source" / "01_tensor" / "01_tensor.ipynb").is_file()
    assert "nbgrader generate_assignment 01_tensor" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stopped:
        cli.main(["nbgrader", "--module", "99", "--dest", str(tmp_path / "course")])
    assert stopped.value.code == 2 and "no module '99'" in capsys.readouterr().err


def test_a_timed_group_carries_its_ratio_and_the_reference_copy_only_inside_its_hidden_region(course):
    timed = [(m, g) for m in course.released() for g in m.groups
             if "reference_module" in (course.root / g.path).read_text(encoding="utf-8")]
    if not timed:
        pytest.skip("no group loads reference_module")
    module, group = timed[0]
    notebook = module_notebook(course, module)
    cell = cells_by_id(notebook)[f"test_{group.name}"]
    assert cell.source.splitlines()[0].endswith(f"--max-ratio {group.max_ratio:g}")
    hidden = cell.source.split(BEGIN_HIDDEN, 1)[1].split(END_HIDDEN, 1)[0]
    copy = REFERENCE_COPY.format(path=module.files[0])
    assert copy in hidden
    assert render_file(course, module, module.files[0], "solution").rstrip() in hidden
    assert sum(copy in c.source for c in notebook.cells) == 1


# ---------------------------------------------------------------------- the kernel-side runner
RUNNER_SCRIPT = textwrap.dedent("""
    import json, sys, types
    from pathlib import Path
    import tinytorch_nbgrader as runner
    from coursetools.manifest import load_course
    from coursetools.release.nbgrader_export import REFERENCE_COPY, solution_source
    from coursetools.release.render import render_file

    course = load_course(Path(sys.argv[1]))
    module = course.module("01")
    notebook = types.ModuleType(module.package)  # what setup() makes of the kernel's namespace
    exec(compile(solution_source(course, module, module.files[0]), "<notebook>", "exec"), notebook.__dict__)
    runner.register_module(notebook)
    tests = (course.root / "tests/01_tensor/test_reductions.py").read_text()
    report = {"full": runner.run_tests("test_reductions.py", tests, points=10)}

    def broken_max(self, axis=None, keepdims=False):
        raise NotImplementedError("max")

    notebook.Tensor.max = broken_max
    report["partial"] = runner.run_tests("test_reductions.py", tests, points=10)
    report["stripped"] = runner.run_tests("test_hidden.py", "# heading only", points=30)
    try:
        runner.run_tests("test_broken.py", "def test_x(:\\n    pass", points=5)
    except runner.TestFileError as error:
        report["broken"] = str(error)
    timed = (
        "import tinytorch.core.tensor as mine\\n"
        "def test_timed(reference_module, max_ratio, record_metric):\\n"
        "    reference = reference_module('tinytorch.core.tensor')\\n"
        "    assert reference.Tensor is not mine.Tensor\\n"
        "    assert float(reference.Tensor([1.0, 2.0]).sum().item()) == 3.0\\n"
        "    record_metric('made_up_ratio', 1.5)\\n"
        "    assert max_ratio == 2.0\\n"
        + "\\n" + REFERENCE_COPY.format(path=module.files[0]) + "\\n"
        + render_file(course, module, module.files[0], "solution"))
    report["timed"] = runner.run_tests("test_timed.py", timed, points=5, max_ratio=2.0)
    patched = (
        "import tinytorch.core.tensor as mine\\n"
        "def test_patch_reaches_the_notebook_functions(monkeypatch):\\n"
        "    monkeypatch.setattr(mine, '_GRAD_ENABLED', False)\\n"
        "    assert mine.is_grad_enabled() is False\\n")
    report["patched"] = runner.run_tests("test_patched.py", patched, points=1)
    report["restored"] = notebook._GRAD_ENABLED
    report["leftovers"] = sorted(p.name for p in Path.cwd().glob(".tinytorch-tests-*"))
    print("REPORT " + json.dumps(report))
""")


def test_the_kernel_runner_scores_like_the_manifest_and_provides_the_grader_fixtures(course, tmp_path):
    folder = export_module(course, course.module("01"), tmp_path)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", RUNNER_SCRIPT, str(course.root)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("REPORT ")), None)
    assert line, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(line.removeprefix("REPORT "))
    assert report["full"] is None  # nbgrader: no value, no error = full points
    assert 0 < report["partial"] < 10
    assert report["stripped"] == 0.0
    assert "no test ran" in report["broken"]
    assert report["timed"] is None  # reference copy loaded apart from the notebook's, ratio given
    assert "test_timed: made_up_ratio = 1.5" in done.stdout
    assert report["patched"] is None and report["restored"] is True  # monkeypatch reached the notebook's globals
    assert report["leftovers"] == []


# ---------------------------------------------------------------------- real nbgrader
def _nbgrader(course_dir: Path, *args: str) -> subprocess.CompletedProcess:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course_dir, env=env,
                          capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "Exception while loading config file" not in done.stdout + done.stderr, done.stderr[-3000:]
    return done


def _scores(course_dir: Path, assignment: str, student: str) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(assignment, student)
        notebook = submission.notebooks[0]
        return {"code": submission.code_score, "max_code": submission.max_code_score,
                "max_written": submission.max_written_score, "needs_manual": submission.needs_manual_grade,
                "cells": {grade.name: grade.auto_score for grade in notebook.grades}}


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("number", round_trip_modules())
def test_nbgrader_gives_the_solution_full_automatic_points_and_the_release_zero(course, tmp_path, number):
    pytest.importorskip("nbgrader")
    pytest.importorskip("ipykernel")
    module = course.module(number)
    name = module.dirname
    source = export_module(course, module, tmp_path)
    _nbgrader(tmp_path, "generate_assignment", name)
    release = tmp_path / "release" / name
    assert_no_leaks(release, course, module)  # no solution line, hidden test or model answer left
    shutil.copytree(source, tmp_path / "submitted" / "solution" / name)
    shutil.copytree(release, tmp_path / "submitted" / "release" / name)
    _nbgrader(tmp_path, "autograde", name, "--create")

    solution, released = _scores(tmp_path, name, "solution"), _scores(tmp_path, name, "release")
    points = {f"test_{g.name}": g.points for g in module.groups}
    assert solution["max_code"] == released["max_code"] == module.max_points
    assert {k: v for k, v in solution["cells"].items() if k in points} == points
    assert solution["code"] == module.max_points
    assert released["code"] == 0
    assert all(released["cells"][k] == 0 for k in points)
    assert solution["max_written"] > 0 and solution["needs_manual"]  # the reflection answers wait for a TA

    _nbgrader(tmp_path, "generate_feedback", name)
    feedback = (tmp_path / "feedback" / "solution" / name / f"{name}.html").read_text(encoding="utf-8")
    hidden_lines = {line.strip() for g in module.groups if g.hidden
                    for line in (course.root / g.path).read_text(encoding="utf-8").splitlines()
                    if line.startswith("def test_")}
    assert hidden_lines and not [line for line in hidden_lines if line in feedback]
