"""Pytest plugin with the grader's fixtures, active in the course repo, student repos and bundles.

- ``reference_module(name)``: a private copy of the reference implementation of a module,
  loaded beside the student's so timed tests compare both in one process (rule 6).
- ``max_ratio``: the timed group's largest allowed student/reference time ratio.
- ``record_metric(name, value)``: a number the grader reports (timing ratios, leaderboard).
- ``student_env``: set environment variables where the code under test runs.

In the grader's test process (``tinytorch_grader.remote``) ``reference_module`` gives proxies of a
separate process running the reference, and ``student_env`` changes the student's process.

In grade mode, ``tinytorch_grader.plugin`` copies the recorded metrics (and each test's
docstring) into the pytest-json-report; the runner turns them into feedback and leaderboard entries.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

REFERENCE_DIR_ENV = "TINYTORCH_REFERENCE_DIR"
MAX_RATIO_ENV = "TINYTORCH_MAX_RATIO"
METRICS_KEY = pytest.StashKey[dict]()
"""Where ``record_metric`` keeps a test's metrics: ``{name: value}`` in the item's stash."""


@pytest.fixture
def reference_module():
    """Factory: ``reference_module("tinytorch.core.spatial")`` -> the reference copy of that module."""

    def load(name: str):
        from tinytorch_grader.remote import pytest_plugin

        if pytest_plugin.active():
            return pytest_plugin.reference().module(name)
        path = _reference_path(name)
        private_name = "_tinytorch_reference_" + name.replace(".", "_")
        if private_name in sys.modules:
            return sys.modules[private_name]
        spec = importlib.util.spec_from_file_location(private_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[private_name] = module
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def max_ratio(request) -> float:
    """The threshold of the current timed group (environment in the grader, manifest in the repo)."""
    if os.environ.get(MAX_RATIO_ENV):
        return float(os.environ[MAX_RATIO_ENV])
    return _ratio_from_manifest(Path(str(request.node.path)))


@pytest.fixture
def record_metric(request):
    """Record a named number for this test: ``record_metric("conv_ratio", 1.3)``."""
    metrics = request.node.stash.setdefault(METRICS_KEY, {})

    def record(name: str, value: float) -> None:
        metrics[name] = float(value)

    return record


@pytest.fixture
def student_env(monkeypatch):
    """Environment variables of the process the code under test runs in (the student's process in
    the grader, this one in the course repo): ``student_env.setenv(name, value)``, ``.delenv(name)``;
    undone after the test."""
    from tinytorch_grader.remote import pytest_plugin

    if not pytest_plugin.active():
        yield monkeypatch
        return
    env = _StudentEnv(pytest_plugin.student())
    yield env
    env.undo()


class _StudentEnv:
    def __init__(self, conn) -> None:
        self.conn, self.saved = conn, []

    def setenv(self, name: str, value) -> None:
        self.saved.append((name, self.conn.request("environ", name, str(value))))

    def delenv(self, name: str, raising: bool = True) -> None:
        self.saved.append((name, self.conn.request("environ", name, None)))

    def undo(self) -> None:
        for name, old in reversed(self.saved):
            try:
                self.conn.request("environ", name, old)
            except Exception:  # noqa: BLE001 - the process may be gone; a new one starts clean
                pass


def _reference_path(name: str) -> Path:
    relative = Path(*name.split(".")).with_suffix(".py")
    root = os.environ.get(REFERENCE_DIR_ENV)
    if root:
        path = Path(root) / relative
        if not path.is_file():
            raise FileNotFoundError(f"the grader bundle has no reference copy of {name} at {path}")
        return path
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin:
        raise ModuleNotFoundError(f"cannot find {name} to load a reference copy of it")
    return Path(spec.origin)


def _ratio_from_manifest(test_file: Path) -> float:
    """In the course repo: find the group whose test file this is in reference/course.toml."""
    try:
        import tomllib
    except ImportError:  # Python 3.10 outside a bundle
        import tomli as tomllib
    for folder in test_file.parents:
        manifest = folder / "reference" / "course.toml"
        if manifest.is_file():
            data = tomllib.loads(manifest.read_text(encoding="utf-8"))
            for module in data.get("module", []):
                for group in module.get("group", []):
                    if test_file.name == f"test_{group['name']}.py" and test_file.parent.name == f"{module['number']}_{module['slug']}":
                        if "max_ratio" in group:
                            return float(group["max_ratio"])
            break
    raise LookupError(f"{test_file} is not a timed group: no max_ratio for it in the manifest")

