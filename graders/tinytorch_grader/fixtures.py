"""Pytest plugin with the grader's fixtures, active in the course repo, student repos and bundles.

- ``reference_module(name)``: a private copy of the reference implementation of a module,
  loaded beside the student's so timed tests compare both in one process (rule 6).
- ``max_ratio``: the timed group's largest allowed student/reference time ratio.
- ``record_metric(name, value)``: a number the grader reports (timing ratios, leaderboard).

Every test's docstring and metrics reach the pytest-json-report through
``pytest_json_runtest_metadata``; the runner turns them into feedback and leaderboard entries.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

REFERENCE_DIR_ENV = "TINYTORCH_REFERENCE_DIR"
MAX_RATIO_ENV = "TINYTORCH_MAX_RATIO"
_metrics_key = pytest.StashKey[dict]()


@pytest.fixture
def reference_module():
    """Factory: ``reference_module("tinytorch.core.spatial")`` -> the reference copy of that module."""

    def load(name: str):
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
    metrics = request.node.stash.setdefault(_metrics_key, {})

    def record(name: str, value: float) -> None:
        metrics[name] = float(value)

    return record


@pytest.hookimpl(optionalhook=True)
def pytest_json_runtest_metadata(item, call):
    if call.when != "call":
        return {}
    doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
    return {"doc": doc.strip(), "metrics": item.stash.get(_metrics_key, {})}


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


PROGRESS_FILE_ENV = "TINYTORCH_PROGRESS_FILE"


def pytest_runtest_logreport(report) -> None:
    """Append each finished test to a progress file, so results survive a group that gets killed."""
    path = os.environ.get(PROGRESS_FILE_ENV)
    failed_early = report.when == "setup" and not report.passed
    if not path or not (report.when == "call" or failed_early):
        return
    import json

    entry = {
        "nodeid": report.nodeid,
        "outcome": report.outcome,
        "message": str(report.longrepr).strip().splitlines()[-1] if report.failed and report.longrepr else "",
        "longrepr": str(report.longrepr) if report.failed else "",
    }
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")
