"""Skeleton notebooks: paired with the module file through jupytext, so work in either is kept.

The pairing itself is jupytext's (``jupytext --sync`` here, its contents manager in Jupyter);
these tests check that a release sets it up so that syncing lands in the package file the
tests and the autograder import.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

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
    notebook.metadata["jupytext"].update(notebook_metadata_filter="-all", cell_metadata_filter="-all")  # as jupytext.toml
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
    assert "STUDENT_NOTE = 'written in my editor'" in cells[0].source
