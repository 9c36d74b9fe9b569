"""Run a module's visible tests with pytest and count what passed, group by group."""

from __future__ import annotations

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
                "points": round(self.earned, 4), "max_points": self.points, "failures": self.failures}


def test_files(ws: Workspace, module: ModuleInfo) -> list[str]:
    """The module's visible test files; an error when this repository does not hold them."""
    files = [g.path for g in module.visible_groups]
    missing = [f for f in files if not (ws.root / f).is_file()]
    if missing or not files:
        raise TitoError(f"the tests of module {module.number} are not in this repository ({', '.join(missing) or 'none'}); "
                        f"each student repository holds only its own module's tests (this one: module {ws.assigned}).")
    return files


def run_visible_tests(ws: Workspace, module: ModuleInfo, *, extra: list[str] = (), capture: bool = False) -> list[GroupRun]:
    """Run pytest on the module's visible test files in the repository; returns one GroupRun per group."""
    files = test_files(ws, module)
    with tempfile.TemporaryDirectory(prefix="tito-test-") as scratch:
        report = Path(scratch) / "junit.xml"
        command = [sys.executable, "-m", "pytest", *files, "-q", "-p", "no:cacheprovider",
                   f"--junitxml={report}", "-o", "junit_family=xunit1", *extra]
        done = subprocess.run(command, cwd=ws.root, capture_output=capture, text=True, check=False)
        if not report.is_file():
            tail = (done.stdout or "")[-2000:] + (done.stderr or "")[-2000:] if capture else "(see the output above)"
            raise TitoError(f"pytest did not run (exit code {done.returncode}): {tail}. "
                            "Install the test tools with `pip install -e \".[test]\"`.")
        return count_by_group(module, ElementTree.parse(report).getroot())


def count_by_group(module: ModuleInfo, root) -> list[GroupRun]:
    runs = {g.path: GroupRun(name=g.name, title=g.title, points=g.points) for g in module.visible_groups}
    for case in root.iter("testcase"):
        run = runs.get(case.get("file", "").replace("\\", "/"))
        if run is None:
            continue
        if any(child.tag in ("failure", "error", "skipped") for child in case):
            run.failed += 1
            run.failures.append(case.get("name", "?"))
        else:
            run.passed += 1
    for run in runs.values():
        if run.total == 0:
            run.failures.append("no test ran: the test file could not be collected (an import or syntax error?)")
    return list(runs.values())
