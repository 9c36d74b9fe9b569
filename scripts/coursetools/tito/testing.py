"""Run a module's visible tests with pytest and count what passed, group by group.

By default pytest's own report is kept back and each failing test gets one short line (its name
and the first line of its error); ``trace=True`` shows pytest's full output instead.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

from coursetools.tito.errors import TitoError
from coursetools.tito.workspace import ModuleInfo, Workspace


@dataclass
class GroupRun:
    """The outcome of one group's tests."""

    name: str
    title: str
    points: float
    passed: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    """Test names that did not pass."""
    reasons: list[str] = field(default_factory=list)
    """For each failure, the first line of its error, shortened."""

    @property
    def total(self) -> int:
        return self.passed + self.failed

    @property
    def ok(self) -> bool:
        return self.total > 0 and self.failed == 0

    @property
    def earned(self) -> float:
        """The group's points split evenly over its tests, as the grader does."""
        return self.points * self.passed / self.total if self.total else 0.0

    def to_dict(self) -> dict:
        return {"group": self.name, "title": self.title, "passed": self.passed, "failed": self.failed,
                "points": round(self.earned, 4), "max_points": self.points, "failures": self.failures,
                "reasons": self.reasons}


def test_files(ws: Workspace, module: ModuleInfo) -> list[str]:
    """The module's visible test files; an error when this repository does not hold them."""
    files = [g.path for g in module.visible_groups]
    missing = [f for f in files if not (ws.root / f).is_file()]
    if missing or not files:
        raise TitoError(f"the tests of module {module.number} are not in this repository ({', '.join(missing) or 'none'}); "
                        f"each student repository holds only its own module's tests (this one: module {ws.assigned}).")
    return files


STUB_MESSAGE = re.compile(r"NotImplementedError: Module \d\d \([^)]*\), region ('[^']+') is not implemented yet")
REASON_CHARS = 150
"""How much of a failure's first error line the short report keeps."""


def run_visible_tests(ws: Workspace, module: ModuleInfo, *, extra: list[str] = (), capture: bool = False,
                      trace: bool = False) -> list[GroupRun]:
    """Run pytest on the module's visible test files in the repository; returns one GroupRun per group.

    Without ``trace`` pytest's output is captured (the caller prints ``short_report``); with it,
    pytest prints its full tracebacks unless ``capture``.
    """
    files = test_files(ws, module)
    with tempfile.TemporaryDirectory(prefix="tito-test-") as scratch:
        report = Path(scratch) / "junit.xml"
        quiet = [] if trace else ["--tb=no", "--no-header", "-p", "no:warnings"]
        command = [sys.executable, "-m", "pytest", *files, "-q", "-p", "no:cacheprovider", *quiet,
                   f"--junitxml={report}", "-o", "junit_family=xunit1", *extra]
        done = subprocess.run(command, cwd=ws.root, capture_output=capture or not trace, text=True, check=False)
        if not report.is_file():
            tail = (done.stdout or "")[-2000:] + (done.stderr or "")[-2000:] if done.stdout is not None else "(see the output above)"
            raise TitoError(f"pytest did not run (exit code {done.returncode}): {tail}. "
                            "Install the test tools with `pip install -e \".[test]\"`.")
        return count_by_group(module, ElementTree.parse(report).getroot())


def count_by_group(module: ModuleInfo, root) -> list[GroupRun]:
    runs = {g.path: GroupRun(name=g.name, title=g.title, points=g.points) for g in module.visible_groups}
    for case in root.iter("testcase"):
        run = runs.get(case.get("file", "").replace("\\", "/"))
        if run is None:
            continue
        problems = [child for child in case if child.tag in ("failure", "error", "skipped")]
        if problems:
            run.failed += 1
            run.failures.append(case.get("name", "?"))
            run.reasons.append(short_reason(problems[0]))
        else:
            run.passed += 1
    for run in runs.values():
        if run.total == 0:
            run.failures.append("no test ran: the test file could not be collected (an import or syntax error?)")
            run.reasons.append(f"run `tito module test {module.number} --trace` to see why")
    return list(runs.values())


def short_reason(problem) -> str:
    """The first line of a junit failure/error message, without pytest's wrapping, shortened."""
    if problem.tag == "skipped":
        return "skipped: " + (problem.get("message") or "")[:REASON_CHARS]
    message = (problem.get("message") or problem.text or problem.tag).strip()
    wrapped = re.match(r'failed on (setup|teardown) with "(.*)"$', message, re.S)
    if wrapped:
        message = f"(in {wrapped[1]}) {wrapped[2]}"
    first = message.splitlines()[0] if message else problem.tag
    stub = STUB_MESSAGE.search(first)
    if stub:
        first = f"NotImplementedError: {stub[1]} is still a stub (its hint is in the file)"
    return first if len(first) <= REASON_CHARS else first[:REASON_CHARS - 1] + "…"


def short_report(runs: list[GroupRun]) -> list[str]:
    """One line per failing test: ``FAIL name: first line of its error``."""
    return [f"FAIL {name}: {reason}" for run in runs for name, reason in zip(run.failures, run.reasons)]
