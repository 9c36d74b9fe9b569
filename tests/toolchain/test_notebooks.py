"""Skeleton notebooks: paired with the module file through jupytext, so work in either is kept.

The pairing itself is jupytext's (``jupytext --sync`` here, its contents manager in Jupyter);
these tests check that a release sets it up so that syncing lands in the package file the
tests and the autograder import, that the lesson is woven in (instructor text only in the
solution repository), and that no documented path loses a student's notebook work.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from coursetools.release.leaks import LeakError, assert_no_leaks
from coursetools.tito.notebook import CELL_METADATA

TENSOR = Path("tinytorch/core/tensor.py")
NOTEBOOK = Path("notebooks/core/tensor.ipynb")


def sync(repo: Path, path: Path) -> None:
    """``jupytext --sync`` as a student runs it, from the repository root (it reads jupytext.toml)."""
    done = subprocess.run([sys.executable, "-m", "jupytext", "--sync", str(path)], cwd=repo,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def touch_later(path: Path) -> None:
    """Make path the newer of the pair (jupytext --sync takes the most recently modified as source)."""
    stamp = path.stat().st_mtime + 10
    os.utime(path, (stamp, stamp))


@pytest.fixture
def student(released_01, tmp_path) -> Path:
    return Path(shutil.copytree(released_01["skeleton"], tmp_path / "01_tensor"))


def test_release_pairs_the_module_file_with_a_notebook(student):
    assert (student / "jupytext.toml").is_file()
    notebook = jupytext.read(student / NOTEBOOK)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert len(notebook.cells) > 3, "one cell per top-level definition"
    notebook.metadata["jupytext"].update(notebook_metadata_filter="-all", cell_metadata_filter=CELL_METADATA)  # as jupytext.toml
    assert jupytext.writes(notebook, fmt="py:percent") == (student / TENSOR).read_text()


def test_first_sync_changes_nothing(student):
    before = (student / TENSOR).read_text()
    sync(student, NOTEBOOK)
    assert (student / TENSOR).read_text() == before


def test_work_done_in_the_notebook_lands_in_the_package_and_passes_the_tests(student, released_01):
    """Fill the notebook's cells with the solution's, sync, and run the module's tests on the package."""
    solved = nbformat.read(released_01["solution"] / NOTEBOOK, as_version=4)
    notebook = nbformat.read(student / NOTEBOOK, as_version=4)
    assert [c.source for c in notebook.cells] != [c.source for c in solved.cells]
    for mine, theirs in zip(notebook.cells, solved.cells):
        mine.source = theirs.source
    nbformat.write(notebook, student / NOTEBOOK)
    touch_later(student / NOTEBOOK)
    sync(student, NOTEBOOK)
    assert (student / TENSOR).read_text() == (released_01["solution"] / TENSOR).read_text()
    env = {**os.environ, "PYTHONPATH": str(student)}
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=student,
                           env=env, capture_output=True, text=True, timeout=300)
    assert tests.returncode == 0, tests.stdout[-2000:]


def test_work_done_in_the_file_reaches_the_notebook(student):
    source = (student / TENSOR).read_text()
    (student / TENSOR).write_text(source.replace("# %%\n", "# %%\nSTUDENT_NOTE = 'written in my editor'\n", 1))
    touch_later(student / TENSOR)
    sync(student, TENSOR)
    cells = jupytext.read(student / NOTEBOOK).cells
    assert any("STUDENT_NOTE = 'written in my editor'" in c.source for c in cells if c.cell_type == "code")


def tito(repo: Path, *args: str) -> subprocess.CompletedProcess:
    """The tito shipped in the repository, as the student runs it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo / "tools"), str(repo)])}
    return subprocess.run([sys.executable, "-m", "coursetools.tito.main", *args], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=300)


def stubs(text: str) -> int:
    return text.count("raise NotImplementedError(")


def finish_in_the_notebook(student: Path, solution: Path) -> None:
    """Do the module in the notebook: every cell as the solution's, saved later than the .py."""
    solved = nbformat.read(solution / NOTEBOOK, as_version=4)
    notebook = nbformat.read(student / NOTEBOOK, as_version=4)
    for mine, theirs in zip(notebook.cells, solved.cells):
        mine.source = theirs.source
    nbformat.write(notebook, student / NOTEBOOK)
    touch_later(student / NOTEBOOK)


def test_skeleton_notebook_teaches_between_the_code_cells(student, released_01):
    cells = jupytext.read(student / NOTEBOOK).cells
    kinds = [c.cell_type for c in cells]
    assert kinds.count("markdown") >= 5 and kinds.count("code") >= 5
    assert "## Learning objectives" in cells[1].source
    matmul = next(i for i, c in enumerate(cells) if "### Tensor.matmul" in c.source)
    tensor_class = next(i for i, c in enumerate(cells) if c.cell_type == "code" and c.source.startswith("class Tensor"))
    assert matmul < tensor_class, "each stub's guidance comes before the cell that holds it"
    systems = [c for c in cells if c.metadata.get("active") == "ipynb"]
    assert len(systems) == 1 and "nbytes" in systems[0].source


def test_answers_reach_the_solution_repository_only(student, released_01, course):
    assert "**Model answer.**" not in (student / TENSOR).read_text()
    assert "**Model answer.**" not in (student / ".tito" / "starter" / TENSOR).read_text()
    assert "**Model answer.**" in (released_01["solution"] / TENSOR).read_text()
    assert "**Rubric.**" in "".join(c.source for c in jupytext.read(released_01["solution"] / NOTEBOOK).cells)
    assert_no_leaks(student, course, course.module("01"))


def test_leak_check_catches_instructor_text_in_a_skeleton(student, course):
    lesson = (Path(__file__).resolve().parents[2] / "reference" / "lessons" / "01_tensor.md").read_text()
    answer = next(line for line in lesson.splitlines() if line.startswith("**Model answer.**"))
    notebook = nbformat.read(student / NOTEBOOK, as_version=4)
    notebook.cells[-1].source += "\n" + answer
    nbformat.write(notebook, student / NOTEBOOK)
    with pytest.raises(LeakError, match="instructor text"):
        assert_no_leaks(student, course, course.module("01"))


def test_a_deleted_module_file_comes_back_from_the_notebook_not_the_starter(student, released_01):
    """The reported data-loss path: finished notebook, delete the .py, `tito module start`, `jupytext --sync`."""
    finish_in_the_notebook(student, released_01["solution"])
    sync(student, NOTEBOOK)
    assert stubs((student / TENSOR).read_text()) == 0
    (student / TENSOR).unlink()
    started = tito(student, "module", "start", "01", "--json")
    assert started.returncode == 0, started.stderr
    assert '"restored"' in started.stdout and str(TENSOR) in started.stdout
    sync(student, NOTEBOOK)
    assert stubs((student / TENSOR).read_text()) == 0
    notebook_code = "".join(c.source for c in jupytext.read(student / NOTEBOOK).cells if c.cell_type == "code")
    assert stubs(notebook_code) == 0, "the finished notebook was replaced by the starter"
    assert (student / TENSOR).read_text() == (released_01["solution"] / TENSOR).read_text()


def test_unsynced_notebook_work_is_restored_too(student, released_01):
    """Work saved only in the notebook (never synced) survives deleting the .py and starting again."""
    finish_in_the_notebook(student, released_01["solution"])
    (student / TENSOR).unlink()
    assert tito(student, "module", "start", "01").returncode == 0
    assert stubs((student / TENSOR).read_text()) == 0


def test_module_test_and_grade_warn_about_an_unsynced_notebook(student, released_01):
    synced = tito(student, "module", "test", "01", "--json")
    assert "not synced" not in synced.stderr
    finish_in_the_notebook(student, released_01["solution"])
    tested = tito(student, "module", "test", "01", "--json")
    assert "notebook edited but not synced" in tested.stderr and "jupytext --sync notebooks/core/tensor.ipynb" in tested.stderr
    assert tested.returncode == 1, "the tests still ran on the stale .py"
    graded = tito(student, "grade", "01")
    assert "notebook edited but not synced" in graded.stderr
