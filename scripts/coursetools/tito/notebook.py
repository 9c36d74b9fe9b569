"""A module's file as a Jupyter notebook, paired with it through jupytext.

The student's module file is written in jupytext's *percent* format: plain Python with a
``# %%`` comment before each top-level definition (and, once the release has woven the lesson in,
``# %% [markdown]`` cells of commented prose and the lesson's systems measurement as a cell that is
active only in the notebook), so it imports and tests like any module.
``notebooks/<subpackage>/<name>.ipynb`` is its pair (``jupytext.toml`` at the repository root
says so): saving in Jupyter with jupytext installed, or ``jupytext --sync``, keeps the two equal.

Work is never lost between the two: ``restore_from_notebook`` rebuilds a deleted module file from
its notebook, and ``sync_warning`` tells ``tito module test``/``tito grade`` when the notebook
holds edits the ``.py`` (what the tests import) does not have.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from coursetools.tito.errors import TitoError

PAIRING = "notebooks///ipynb,tinytorch///py:percent"
CELL_METADATA = "active,-all"
"""Cell metadata kept in the .py: only jupytext's ``active`` (the notebook-only systems cell)."""
JUPYTEXT_TOML = f"""\
# Pairs notebooks/<path>.ipynb with tinytorch/<path>.py (percent format): edit either, both are kept.
formats = "{PAIRING}"
notebook_metadata_filter = "-all"
cell_metadata_filter = "{CELL_METADATA}"
"""
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}
NOTEBOOK_ONLY = {"active": "ipynb"}
"""Cell metadata of code that runs in the notebook and stays commented out in the .py."""
SYNC_SLACK_S = 1.0
"""Modification times closer than this count as saved together (Jupyter writes both files)."""


@dataclass(frozen=True)
class Cell:
    """One notebook cell: kind "code" or "markdown", its source, its metadata."""

    kind: str
    source: str
    names: tuple[str, ...] = ()
    """Top-level classes and functions a code cell defines (the first one is the cell's)."""
    metadata: dict = field(default_factory=dict)


def notebook_for(relative: str) -> str:
    """``tinytorch/core/tensor.py`` -> ``notebooks/core/tensor.ipynb``."""
    path = PurePosixPath(relative)
    if path.parts[0] != "tinytorch" or path.suffix != ".py":
        raise ValueError(f"{relative} is not a tinytorch module file")
    return str(PurePosixPath("notebooks", *path.parts[1:]).with_suffix(".ipynb"))


def code_cells(source: str) -> list[Cell]:
    """The file split before each top-level def or class (its decorators and leading comments included).

    The first cell is the preamble (docstring, imports, constants); a module-level statement
    after a definition stays in that definition's cell.
    """
    lines = source.splitlines(keepends=True)
    nodes = [n for n in ast.parse(source).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    starts, previous_end = [], 0
    for node in nodes:
        start = _first_line(node) - 1
        while start - 1 >= previous_end and lines[start - 1].startswith("#"):
            start -= 1
        starts.append(start)
        previous_end = node.end_lineno
    bounds = [0, *starts, len(lines)]
    cells = [Cell("code", "".join(lines[a:b]).strip("\n"), names) for (a, b), names
             in zip(zip(bounds, bounds[1:]), [(), *((n.name,) for n in nodes)])]
    return [c for c in cells if c.source.strip() or c.names]


def percent_text(cells: list[Cell]) -> str:
    """The cells as jupytext writes them in percent format with this repository's filters.

    Writing through jupytext makes the first ``jupytext --sync`` a no-op.
    """
    jupytext = _jupytext()
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    made = [new_markdown_cell(c.source) if c.kind == "markdown" else new_code_cell(c.source, metadata=dict(c.metadata))
            for c in cells]
    notebook = new_notebook(cells=made)
    notebook.metadata["jupytext"] = {"notebook_metadata_filter": "-all", "cell_metadata_filter": CELL_METADATA}
    return jupytext.writes(notebook, fmt="py:percent")


def with_cell_markers(source: str) -> str:
    """The source in percent format, one cell per top-level definition (a module without a lesson)."""
    if "# %%" in source:
        return source
    return percent_text(code_cells(source))


def write_notebook(py_file: Path, ipynb_file: Path) -> Path:
    """Write the notebook paired with ``py_file`` (which must not exist yet)."""
    jupytext = _jupytext()
    if ipynb_file.exists():
        raise TitoError(f"{ipynb_file} already exists; it is your work and is kept as it is")
    notebook = jupytext.reads(py_file.read_text(encoding="utf-8"), fmt="py:percent")
    notebook.metadata = {"kernelspec": KERNEL, "jupytext": {"formats": PAIRING}}
    ipynb_file.parent.mkdir(parents=True, exist_ok=True)
    jupytext.write(notebook, str(ipynb_file), fmt="ipynb")
    return ipynb_file


def notebook_as_script(ipynb_file: Path) -> str:
    """What ``jupytext --sync`` would write into the paired .py for this notebook."""
    jupytext = _jupytext()
    notebook = jupytext.read(str(ipynb_file))
    notebook.metadata.setdefault("jupytext", {}).update(notebook_metadata_filter="-all",
                                                        cell_metadata_filter=CELL_METADATA)
    return jupytext.writes(notebook, fmt="py:percent")


def restore_from_notebook(ipynb_file: Path, py_file: Path) -> Path:
    """Rebuild a missing module file from its notebook (the student's latest work)."""
    if py_file.exists():
        raise TitoError(f"{py_file} exists; it is your work and is kept as it is")
    text = notebook_as_script(ipynb_file)
    py_file.parent.mkdir(parents=True, exist_ok=True)
    py_file.write_text(text, encoding="utf-8")
    return py_file


def sync_warning(root: Path, relative: str) -> str | None:
    """A warning when ``notebooks/...ipynb`` and ``relative`` (the .py) disagree; None when in line.

    Compares the cells' contents when jupytext is installed (times only otherwise): the tests and
    the grader import the .py, so a notebook edited but not synced would be graded stale.
    """
    py_file, ipynb_file = root / relative, root / notebook_for(relative)
    if not (py_file.is_file() and ipynb_file.is_file()):
        return None
    notebook_newer = ipynb_file.stat().st_mtime > py_file.stat().st_mtime + SYNC_SLACK_S
    try:
        differs = _cell_contents(_jupytext().read(str(ipynb_file))) != _cell_contents(
            _jupytext().reads(py_file.read_text(encoding="utf-8"), fmt="py:percent"))
    except TitoError:  # no jupytext: the times are all we have
        differs = notebook_newer
    except Exception as error:  # a notebook jupytext cannot read is worth saying so
        return f"{notebook_for(relative)} could not be read ({error}); the tests use {relative}"
    if not differs:
        return None
    sync = f"jupytext --sync {notebook_for(relative)}"
    if notebook_newer:
        return (f"notebook edited but not synced: {notebook_for(relative)} is newer than {relative} and differs "
                f"from it; the tests use the .py, so run `{sync}` first")
    return (f"{relative} differs from {notebook_for(relative)} (the .py is newer; the tests use it); "
            f"`{sync}` brings your edits into the notebook")


def _cell_contents(notebook) -> list[tuple[str, str]]:
    """Each cell's kind and text, blank lines at the ends ignored (jupytext versions space cells differently)."""
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def _first_line(node: ast.stmt) -> int:
    return min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])


def _jupytext():
    try:
        import jupytext
    except ImportError:
        raise TitoError("jupytext is not installed; install it with `pip install -e \".[notebook]\"`") from None
    return jupytext
