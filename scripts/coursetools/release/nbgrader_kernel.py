"""Run a module's pytest tests from an nbgrader test cell, against the code the notebook defined.

``coursetools.release.nbgrader_export`` ships this file into every nbgrader assignment as
``tinytorch_nbgrader.py``; it runs inside the student's Jupyter kernel (Python 3.10+, pytest and
NumPy only). The notebook's locked setup cell calls ``setup("tinytorch.core.tensor")``, which
registers the cell magic each test cell starts with::

    %%tinytorch_tests test_creation.py --points 10
    <the test file's source, exactly as in tests/01_tensor/test_creation.py>

``setup`` turns the kernel's namespace into the module itself (``tinytorch.core.tensor`` in
``sys.modules`` is the notebook's globals); the magic writes the cell's source and the course
``conftest.py`` (fixtures ``rng``, ``gradcheck``) into a fresh temporary folder and runs pytest on
it in this process. So every fixture, parametrization
and ``pytest.raises`` of the real test file works unchanged, and a test is the same test on
Gradescope, in ``tito`` and here.

Timed groups use the Gradescope grader's fixtures; the runner provides them in the kernel:
``max_ratio`` (the magic's ``--max-ratio``), ``record_metric`` (printed under the results),
``student_env`` (the kernel's own environment: the code under test runs here) and
``reference_module(name)``, a private copy of the reference: of the module itself from the
``# ---- reference copy: <path> ----`` sections that follow the tests in a hidden cell (so only the
instructor's version has them), of an earlier module from the solved files shipped beside the notebook.

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
import importlib.util
import os
import re
import shlex
import shutil
import sys
import tempfile
import types
from pathlib import Path

import pytest

MAGIC = "tinytorch_tests"
CONFTEST = "conftest.py"
PYTEST_ARGS = ("-q", "--tb=short", "-p", "no:cacheprovider", "--capture=sys", "--import-mode=importlib")
"""Quiet output, no cache folder, sys-level capture (a kernel's stdout is not fd 1), and imports by
path so a re-run never meets a stale module of the same name."""
REFERENCE_LINE = re.compile(r"^# ---- reference copy: (?P<path>\S+) ----$", re.M)
"""Starts a reference file's source in a hidden test cell (after the tests)."""


class TestFileError(RuntimeError):
    """The test cell's tests could not be collected (a syntax or import error); worth 0 points."""


def setup(module_name: str) -> None:
    """Make this kernel's namespace the module ``module_name`` and register ``%%tinytorch_tests``.

    From here on the notebook's cells run in that module's globals: ``tinytorch.core.tensor`` in
    ``sys.modules`` is the notebook itself, its classes say ``__module__ == "tinytorch.core.tensor"``,
    and a test that patches a module global (``monkeypatch.setattr(training, "print", ...)``)
    reaches the student's functions exactly as when the module is a file.
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("tinytorch_nbgrader.setup() runs inside a Jupyter kernel (a notebook), not plain Python")
    module = types.ModuleType(module_name)
    module.__dict__.update({key: value for key, value in shell.user_ns.items() if key != "__name__"})
    module.__file__ = os.path.join(os.getcwd(), "<notebook>")
    shell.user_module, shell.user_ns = module, module.__dict__
    shell.ns_table["user_global"] = shell.ns_table["user_local"] = module.__dict__
    register_module(module)
    shell.register_magic_function(_tests_magic, magic_kind="cell", magic_name=MAGIC)


def register_module(module: types.ModuleType) -> None:
    """Put ``module`` in ``sys.modules`` under its name and on its parent package (imported first)."""
    parent_name, _, leaf = module.__name__.rpartition(".")
    sys.modules[module.__name__] = module
    if parent_name:
        setattr(importlib.import_module(parent_name), leaf, module)


def _tests_magic(line: str, cell: str):
    options = argparse.ArgumentParser(prog=f"%%{MAGIC}")
    options.add_argument("file_name")
    options.add_argument("--points", type=float, required=True)
    options.add_argument("--max-ratio", type=float, help="a timed group's largest student/reference time ratio")
    args = options.parse_args(shlex.split(line))
    return run_tests(args.file_name, cell, points=args.points, max_ratio=args.max_ratio)


def run_tests(file_name: str, source: str, *, points: float, max_ratio: float | None = None) -> float | None:
    """Run ``source`` as test file ``file_name`` (against the modules in ``sys.modules``: the notebook's).

    ``source`` may end with reference copies (``# ---- reference copy: tinytorch/x.py ----`` + code).
    Returns None when every test passed (nbgrader: full points) or the points earned otherwise.
    """
    if "def test" not in source:
        print(f"{file_name}: hidden tests; they run when the assignment is graded (0 of {points:g} points here).")
        return 0.0
    tests, references = split_references(source)
    fixtures = GraderFixtures(max_ratio=max_ratio, references=references)
    outcomes = _run_pytest(file_name, tests, fixtures)
    fixtures.print_metrics()
    total, passed = len(outcomes), sum(1 for outcome in outcomes.values() if outcome == "passed")
    if not outcomes:
        raise TestFileError(f"{file_name}: no test ran; see the errors above (a syntax or import error in the tests "
                            "or in the code they import)")
    if passed == total:
        print(f"{file_name}: all {total} tests passed, {points:g} of {points:g} points.")
        return None
    earned = round(points * passed / total, 4)
    print(f"{file_name}: {passed} of {total} tests passed, {earned:g} of {points:g} points.")
    return earned


def split_references(source: str) -> tuple[str, dict[str, str]]:
    """The test file's source and the reference copies after it ({relative path: source})."""
    found = list(REFERENCE_LINE.finditer(source))
    if not found:
        return source, {}
    ends = [match.start() for match in found[1:]] + [len(source)]
    references = {match["path"]: source[match.end():end].strip("\n") + "\n" for match, end in zip(found, ends)}
    return source[:found[0].start()], references


def _run_pytest(file_name: str, source: str, fixtures: GraderFixtures) -> dict[str, str]:
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
        fixtures.folder = folder
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        recorder = _OutcomeRecorder()
        pytest.main([*PYTEST_ARGS, "--rootdir", str(folder), "-c", str(folder / "pytest.ini"),
                     str(folder / file_name)], plugins=[recorder, fixtures])
        return recorder.outcomes
    finally:
        if saved_autoload is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved_autoload
        for name in set(sys.modules) - before:  # this run's test module, conftest and reference copies
            if str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(folder)) or name in fixtures.loaded:
                del sys.modules[name]
        shutil.rmtree(folder, ignore_errors=True)


def _scratch_folder() -> Path:
    """A fresh folder for one run: inside the notebook's folder when it is writable, so pytest's
    messages name ``.tinytorch-tests-*/test_x.py`` rather than a long path; the system's otherwise."""
    try:
        return Path(tempfile.mkdtemp(prefix=".tinytorch-tests-", dir=os.getcwd()))
    except OSError:
        return Path(tempfile.mkdtemp(prefix="tinytorch-tests-"))


class GraderFixtures:
    """A pytest plugin object with the grader's fixtures, as they behave in the course repository."""

    def __init__(self, *, max_ratio: float | None, references: dict[str, str]) -> None:
        self.ratio, self.references = max_ratio, references
        self.folder: Path | None = None
        self.loaded: dict[str, types.ModuleType] = {}
        self.metrics: dict[str, dict[str, float]] = {}

    @pytest.fixture
    def max_ratio(self) -> float:
        if self.ratio is None:
            raise LookupError("this test cell is not a timed group: its %%tinytorch_tests line has no --max-ratio")
        return self.ratio

    @pytest.fixture
    def record_metric(self, request):
        metrics = self.metrics.setdefault(request.node.name, {})

        def record(name: str, value: float) -> None:
            metrics[name] = float(value)

        return record

    @pytest.fixture
    def student_env(self, monkeypatch):
        return monkeypatch  # the code under test runs in this kernel

    @pytest.fixture
    def reference_module(self):
        return self.load_reference

    def load_reference(self, name: str) -> types.ModuleType:
        """A private copy of the reference of ``name`` (tinytorch.core.spatial), loaded once per run."""
        private = "_tinytorch_reference_" + name.replace(".", "_")
        if private not in self.loaded:
            spec = importlib.util.spec_from_file_location(private, self._reference_path(name))
            module = importlib.util.module_from_spec(spec)
            sys.modules[private] = self.loaded[private] = module
            spec.loader.exec_module(module)
        return self.loaded[private]

    def _reference_path(self, name: str) -> Path:
        relative = "/".join(name.split(".")) + ".py"
        if relative in self.references:
            path = self.folder / "reference" / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.references[relative], encoding="utf-8")
            return path
        shipped = Path.cwd() / relative  # an earlier module, solved, beside the notebook
        if shipped.is_file():
            return shipped
        raise LookupError(f"no reference copy of {name}: the test cell has none and {relative} is not beside "
                          "the notebook")

    def print_metrics(self) -> None:
        for test, metrics in self.metrics.items():
            shown = ", ".join(f"{name} = {value:.3g}" for name, value in metrics.items())
            print(f"{test}: {shown}")


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
