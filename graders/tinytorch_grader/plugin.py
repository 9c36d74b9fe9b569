"""Pytest plugin of the grader: ``-p tinytorch_grader.plugin --tt-grade=CHANNEL``.

Inert unless ``--tt-grade`` is given. CHANNEL is ``fd:N`` (a pipe the grader passed in, the
normal case) or a file path (appended to). Then the plugin

- adds each test's docstring (a hint for students) and the metrics it recorded with the
  ``record_metric`` fixture to the test's pytest-json-report entry, under ``metadata``;
- writes one JSON line per finished test to CHANNEL (``{"kind": "progress", ...}``), so the tests
  that finished before the runner killed a group at its wall-clock limit keep their results;
- at the end writes the whole pytest-json-report as one line (``{"kind": "report", ...}``): the
  report never goes to a file the student code could rewrite;
- snapshots NumPy, pytest, its hooks and report classes, the shared fixtures and the earlier
  modules before any student code is imported, and writes ``{"kind": "tampered", ...}`` when
  one of them changed (``tinytorch_grader.integrity``);
- stops the session when ``tinytorch`` would import from outside the grading tree (an installed
  copy shadowing the submission), since grading the wrong code would be silently wrong.

Turning these records into points and feedback is ``tinytorch_grader.feedback``'s job.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
from pathlib import Path

import pytest

from tinytorch_grader.fixtures import METRICS_KEY
from tinytorch_grader.integrity import Snapshot

OPTION = "--tt-grade"
REMOTE_ENV = "TINYTORCH_REMOTE_STUDENT"
"""Set by the grader when the tests run in a trusted process (``tinytorch_grader.remote``)."""
TRUSTED_MODULES_ENV = "TINYTORCH_TRUSTED_MODULES"
"""Comma-separated modules of the bundle (earlier modules) imported and snapshotted before the student's."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tinytorch-grader")
    group.addoption(
        OPTION, dest="tt_grade", metavar="CHANNEL", default=None,
        help="grade mode: record docstrings and metrics in the JSON report and write every finished "
             "test, tampering and the final report to CHANNEL (fd:N or a file, one JSON object per line)",
    )


def pytest_configure(config: pytest.Config) -> None:
    channel = config.getoption("tt_grade")
    if channel:
        config.pluginmanager.register(GradingRecorder(open_channel(channel)), "tinytorch-grading-recorder")


def open_channel(spec: str):
    """A line-buffered text stream to ``fd:N`` or a file opened for appending."""
    if spec.startswith("fd:"):
        return os.fdopen(int(spec[3:]), "w", encoding="utf-8", buffering=1)
    return open(spec, "a", encoding="utf-8", buffering=1)


class GradingRecorder:
    """The hooks that are active in grade mode only."""

    def __init__(self, channel) -> None:
        self.channel = channel
        self.snapshot: Snapshot | None = None
        self.tampered: list[str] = []

    def send(self, kind: str, data: dict) -> None:
        try:
            self.channel.write(json.dumps({"kind": kind, **data}) + "\n")
            self.channel.flush()
        except (OSError, ValueError):
            pass  # the grader stopped listening; nothing left to tell it

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if os.environ.get(REMOTE_ENV):
            return  # the student's code runs in its own process: nothing of it is here to watch
        check_tinytorch_is_inside(session.config.rootpath)
        trusted = [name for name in os.environ.get(TRUSTED_MODULES_ENV, "").split(",") if name]
        for name in trusted:
            try:
                importlib.import_module(name)
            except Exception:  # an earlier module that does not import is the test's problem
                pass
        self.snapshot = Snapshot(session.config.rootpath, trusted, session.config.pluginmanager)

    def check_integrity(self) -> None:
        if self.snapshot is None:
            return
        new = [change for change in self.snapshot.changes() if change not in self.tampered]
        if new:
            self.tampered += new
            self.send("tampered", {"changes": new})

    @pytest.hookimpl(optionalhook=True)
    def pytest_json_runtest_metadata(self, item: pytest.Item, call: pytest.CallInfo) -> dict:
        if call.when == "setup":
            doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
            return {"doc": doc.strip()}
        if call.when == "call":
            return {"metrics": item.stash.get(METRICS_KEY, {})}
        return {}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.check_integrity()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        failed_before_call = report.when == "setup" and not report.passed
        if report.when == "call" or failed_before_call:
            self.check_integrity()
            self.send("progress", progress_entry(report))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.check_integrity()
        if os.environ.get(REMOTE_ENV):
            from tinytorch_grader.remote import launch

            self.send("isolation", {"isolation": dict(launch.ISOLATION)})
        plugin = getattr(session.config, "_json_report", None)
        report = getattr(plugin, "report", None)
        if report is not None:
            self.send("report", {"report": report})


def progress_entry(report: pytest.TestReport) -> dict:
    """One progress line: the test id, its outcome and, when it failed, why."""
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
