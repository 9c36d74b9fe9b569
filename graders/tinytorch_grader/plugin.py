"""Pytest plugin of the grader: ``-p tinytorch_grader.plugin --tt-grade=PROGRESS_FILE``.

Inert unless ``--tt-grade`` is given. Then it

- adds each test's docstring (a hint for students) and the metrics it recorded with the
  ``record_metric`` fixture to the test's pytest-json-report entry, under ``metadata``;
- appends one JSON line per finished test to PROGRESS_FILE, so the tests that finished before the
  runner killed a group at its wall-clock limit keep their results (the JSON report is written
  only at the end of a session);
- stops the session when ``tinytorch`` would import from outside the grading tree (an installed
  copy shadowing the submission), since grading the wrong code would be silently wrong.

Turning these records into points and feedback is ``tinytorch_grader.feedback``'s job.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tinytorch_grader.fixtures import METRICS_KEY

OPTION = "--tt-grade"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tinytorch-grader")
    group.addoption(
        OPTION, dest="tt_grade", metavar="PROGRESS_FILE", default=None,
        help="grade mode: record docstrings and metrics in the JSON report and append every "
             "finished test to PROGRESS_FILE (one JSON object per line)",
    )


def pytest_configure(config: pytest.Config) -> None:
    progress_file = config.getoption("tt_grade")
    if progress_file:
        config.pluginmanager.register(GradingRecorder(Path(progress_file)), "tinytorch-grading-recorder")


class GradingRecorder:
    """The hooks that are active in grade mode only."""

    def __init__(self, progress_file: Path) -> None:
        self.progress_file = progress_file

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        check_tinytorch_is_inside(session.config.rootpath)

    @pytest.hookimpl(optionalhook=True)
    def pytest_json_runtest_metadata(self, item: pytest.Item, call: pytest.CallInfo) -> dict:
        if call.when == "setup":
            doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
            return {"doc": doc.strip()}
        if call.when == "call":
            return {"metrics": item.stash.get(METRICS_KEY, {})}
        return {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        failed_before_call = report.when == "setup" and not report.passed
        if report.when == "call" or failed_before_call:
            with open(self.progress_file, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(progress_entry(report)) + "\n")


def progress_entry(report: pytest.TestReport) -> dict:
    """One line of the progress file: the test id, its outcome and, when it failed, why."""
    longrepr = str(report.longrepr).strip() if report.failed and report.longrepr else ""
    return {
        "nodeid": report.nodeid,
        "outcome": report.outcome,
        "message": longrepr.splitlines()[-1] if longrepr else "",
        "longrepr": longrepr,
    }


def check_tinytorch_is_inside(tree: Path) -> None:
    """Raise a usage error when ``import tinytorch`` would not load the tree's copy."""
    spec = importlib.util.find_spec("tinytorch")
    origin = Path(spec.origin).resolve() if spec and spec.origin else None
    if origin is None or Path(tree).resolve() not in origin.parents:
        raise pytest.UsageError(
            f"tinytorch imports from {origin}, not from the grading tree {tree}: an installed "
            "tinytorch shadows the submission. Uninstall it from the grader's environment."
        )
