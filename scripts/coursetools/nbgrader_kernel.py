"""Run a module's pytest tests from an nbgrader test cell, against the code the notebook defined.

``coursetools.nbgrader_export`` ships this file into every nbgrader assignment as
``tinytorch_nbgrader.py``; it runs inside the student's Jupyter kernel (Python 3.10+, pytest and
NumPy only). The notebook's locked setup cell calls ``setup("tinytorch.core.tensor")``, which
registers the cell magic each test cell starts with::

    %%tinytorch_tests test_creation.py --points 10
    <the test file's source, exactly as in tests/01_tensor/test_creation.py>

The magic makes the notebook's definitions importable under the module's package path (a module
object built from the kernel's namespace replaces ``tinytorch.core.tensor`` in ``sys.modules``),
writes the cell's source and the course ``conftest.py`` (fixtures ``rng``, ``gradcheck``) into a
fresh temporary folder, and runs pytest on it in this process. So every fixture, parametrization
and ``pytest.raises`` of the real test file works unchanged, and a test is the same test on
Gradescope, in ``tito`` and here.

Scoring follows the manifest (a group's points split evenly over its tests) through nbgrader's
partial credit: all tests pass -> the cell shows no value and earns its points; otherwise the cell's
value is the points earned (``passed / total * points``); a test file that does not even collect
raises, which earns 0. A hidden test cell in the release has no tests left (nbgrader removed them
between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``): it says so and is worth 0 until
``nbgrader autograde`` restores the instructor's version.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import shlex
import shutil
import sys
import tempfile
import types
from pathlib import Path

MAGIC = "tinytorch_tests"
CONFTEST = "conftest.py"
PYTEST_ARGS = ("-q", "--tb=short", "-p", "no:cacheprovider", "--capture=sys", "--import-mode=importlib")
"""Quiet output, no cache folder, sys-level capture (a kernel's stdout is not fd 1), and imports by
path so a re-run never meets a stale module of the same name."""
KERNEL_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "__builtins__", "__name__", "__doc__"})
KERNEL_HISTORY = re.compile(r"^_(?:_{0,2}|i{1,3}|\d+|i\d+|ih|oh|dh)$")
_MODULE: dict[str, str] = {}


class TestFileError(RuntimeError):
    """The test cell's tests could not be collected (a syntax or import error); worth 0 points."""


def setup(module_name: str) -> None:
    """Register ``%%tinytorch_tests`` in this kernel; the notebook's code is ``module_name``."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("tinytorch_nbgrader.setup() runs inside a Jupyter kernel (a notebook), not plain Python")
    _MODULE["name"] = module_name
    shell.register_magic_function(_tests_magic, magic_kind="cell", magic_name=MAGIC)


def _tests_magic(line: str, cell: str):
    from IPython import get_ipython

    options = argparse.ArgumentParser(prog=f"%%{MAGIC}")
    options.add_argument("file_name")
    options.add_argument("--points", type=float, required=True)
    args = options.parse_args(shlex.split(line))
    return run_tests(args.file_name, cell, points=args.points, namespace=get_ipython().user_ns,
                     module_name=_MODULE["name"])


def run_tests(file_name: str, source: str, *, points: float, namespace: dict, module_name: str) -> float | None:
    """Run ``source`` as test file ``file_name`` against ``namespace`` as ``module_name``.

    Returns None when every test passed (nbgrader: full points) or the points earned otherwise.
    """
    if "def test" not in source:
        print(f"{file_name}: hidden tests; they run when the assignment is graded (0 of {points:g} points here).")
        return 0.0
    install_module(module_name, namespace)
    outcomes = _run_pytest(file_name, source)
    total, passed = len(outcomes), sum(1 for outcome in outcomes.values() if outcome == "passed")
    if total == 0:
        raise TestFileError(f"{file_name}: no test ran; see the errors above (a syntax or import error in the tests "
                            "or in the code they import)")
    if passed == total:
        print(f"{file_name}: all {total} tests passed, {points:g} of {points:g} points.")
        return None
    earned = round(points * passed / total, 4)
    print(f"{file_name}: {passed} of {total} tests passed, {earned:g} of {points:g} points.")
    return earned


def install_module(module_name: str, namespace: dict) -> types.ModuleType:
    """Make the kernel's definitions importable as ``module_name`` (its parent package imported first)."""
    parent_name, _, leaf = module_name.rpartition(".")
    module = types.ModuleType(module_name, namespace.get("__doc__"))
    module.__dict__.update({key: value for key, value in namespace.items() if not _kernel_name(key)})
    module.__file__ = os.path.join(os.getcwd(), "<notebook>")
    sys.modules[module_name] = module
    if parent_name:
        setattr(importlib.import_module(parent_name), leaf, module)
    return module


def _kernel_name(key: str) -> bool:
    """IPython's own names in the user namespace (In, Out, _, _i3, exit ...), not the student's."""
    return key in KERNEL_NAMES or KERNEL_HISTORY.match(key) is not None


def _run_pytest(file_name: str, source: str) -> dict[str, str]:
    """Outcome per test id ("passed", "failed", "skipped"); collection errors leave it empty."""
    import pytest

    folder = _scratch_folder()
    before = set(sys.modules)
    saved_autoload = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    try:
        (folder / file_name).write_text(source, encoding="utf-8")
        if Path(CONFTEST).is_file():
            shutil.copyfile(CONFTEST, folder / CONFTEST)
        (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        recorder = _OutcomeRecorder()
        pytest.main([*PYTEST_ARGS, "--rootdir", str(folder), "-c", str(folder / "pytest.ini"),
                     str(folder / file_name)], plugins=[recorder])
        return recorder.outcomes
    finally:
        if saved_autoload is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved_autoload
        for name in set(sys.modules) - before:  # the test module and conftest of this run only
            if str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(folder)):
                del sys.modules[name]
        shutil.rmtree(folder, ignore_errors=True)


def _scratch_folder() -> Path:
    """A fresh folder for one run: inside the notebook's folder when it is writable, so pytest's
    messages name ``.tinytorch-tests-*/test_x.py`` rather than a long path; the system's otherwise."""
    try:
        return Path(tempfile.mkdtemp(prefix=".tinytorch-tests-", dir=os.getcwd()))
    except OSError:
        return Path(tempfile.mkdtemp(prefix="tinytorch-tests-"))


class _OutcomeRecorder:
    """A pytest plugin object: a test failed if any of its phases failed, passed if its call passed."""

    def __init__(self) -> None:
        self.outcomes: dict[str, str] = {}

    def pytest_runtest_logreport(self, report) -> None:
        if report.failed:
            self.outcomes[report.nodeid] = "failed"
        elif report.skipped:
            self.outcomes.setdefault(report.nodeid, "skipped")
        elif report.when == "call":
            self.outcomes.setdefault(report.nodeid, "passed")
