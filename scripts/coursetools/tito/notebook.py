"""A module's file as a Jupyter notebook, paired with it through jupytext.

The student's module file is written in jupytext's *percent* format: plain Python with a
``# %%`` comment before each top-level definition, so it imports and tests like any module.
``notebooks/<subpackage>/<name>.ipynb`` is its pair (``jupytext.toml`` at the repository root
says so): saving in Jupyter with jupytext installed, or ``jupytext --sync``, keeps the two equal.
"""

from __future__ import annotations

import ast
from pathlib import Path, PurePosixPath

from coursetools.tito.errors import TitoError

CELL = "# %%"
PAIRING = "notebooks///ipynb,tinytorch///py:percent"
JUPYTEXT_TOML = f"""\
# Pairs notebooks/<path>.ipynb with tinytorch/<path>.py (percent format): edit either, both are kept.
formats = "{PAIRING}"
notebook_metadata_filter = "-all"
cell_metadata_filter = "-all"
"""
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def notebook_for(relative: str) -> str:
    """``tinytorch/core/tensor.py`` -> ``notebooks/core/tensor.ipynb``."""
    path = PurePosixPath(relative)
    if path.parts[0] != "tinytorch" or path.suffix != ".py":
        raise ValueError(f"{relative} is not a tinytorch module file")
    return str(PurePosixPath("notebooks", *path.parts[1:]).with_suffix(".ipynb"))


def with_cell_markers(source: str) -> str:
    """The source with a cell marker at the top and before each top-level def or class.

    The result is what jupytext writes for the same cells, so the first sync changes nothing.
    """
    if CELL in source:
        return source
    lines = source.splitlines(keepends=True)
    starts = sorted({_first_line(node) for node in ast.parse(source).body
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))})
    for start in reversed(starts):
        lines.insert(start - 1, CELL + "\n")
    text = CELL + "\n" + "".join(lines)
    return _jupytext_round_trip(text)


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


def _jupytext_round_trip(text: str) -> str:
    jupytext = _jupytext()
    notebook = jupytext.reads(text, fmt="py:percent")
    notebook.metadata["jupytext"] = {"notebook_metadata_filter": "-all", "cell_metadata_filter": "-all"}
    return jupytext.writes(notebook, fmt="py:percent")


def _first_line(node: ast.stmt) -> int:
    return min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])


def _jupytext():
    try:
        import jupytext
    except ImportError:
        raise TitoError("jupytext is not installed; install it with `pip install -e \".[notebook]\"`") from None
    return jupytext
