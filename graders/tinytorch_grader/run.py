"""Grade one submission: overlay, run each test group in a killable process, write results.json.

Layout (Gradescope's): ``<autograder>/source`` is the unzipped bundle, ``<autograder>/submission``
the student's files, ``<autograder>/results`` where results.json goes. The bundle holds
``grader.json`` (the module's slice of the manifest plus the test ids expected per group),
``tree/`` (earlier modules, tests, conftest) and ``reference_copy/`` (for timed ratio tests).

Whatever the submission does, this writes a complete results.json and exits 0.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from tinytorch_grader import feedback
from tinytorch_grader.results import GradeResult, TestOutcome

GRADER_PACKAGE_DIR = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 30
"""Added to a group's wall-clock limit for starting Python, importing NumPy and collecting."""
MIN_GROUP_SECONDS = 5
"""A group is not started when less than this is left of the module's budget."""


def main(*, autograder_dir: str = "/autograder") -> GradeResult:
    """Grade ``<autograder_dir>/submission`` and write ``<autograder_dir>/results/results.json``."""
    root = Path(autograder_dir)
    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    config: dict = {}
    try:
        config = json.loads((root / "source" / "grader.json").read_text(encoding="utf-8"))
        result, report = grade(config, root / "source", root / "submission")
    except Exception:  # the grader must never leave Gradescope without results
        result, report = grader_failure(config, traceback.format_exc()), {}
    result.execution_time = time.monotonic() - started
    _write_json(results_dir / "results.json", result.to_gradescope_dict())
    _write_json(results_dir / "report.json", report)
    print(f"score {result.score:g} / {result.max_score:g} written to {results_dir / 'results.json'}")
    return result


def grader_failure(config: dict, trace: str) -> GradeResult:
    """Every expected test at 0 (when grader.json could be read) with the grader's own error."""
    message = ("**Not graded**: the autograder itself failed, not your code. Please tell your instructor.\n\n"
               "```text\n" + trace[-3000:] + "\n```")
    outcomes = []
    for index, group in enumerate(config.get("groups", []), start=1):
        expected = config.get("expected", {}).get(group["name"], [])
        outcomes.extend(feedback.fill_missing(group, index, expected, message))
    return GradeResult(tests=outcomes, output=message)


def grade(config: dict, source: Path, submission: Path) -> tuple[GradeResult, dict]:
    """Overlay the owned files onto a fresh tree and run every group; returns results and reports."""
    module = config["module"]
    with tempfile.TemporaryDirectory(prefix="tinytorch-grade-") as scratch:
        workspace = Workspace(source=source, scratch=Path(scratch), budget=float(module["budget"]))
        shutil.copytree(source / "tree", workspace.tree)
        missing = overlay(module["files"], submission, workspace.tree)
        outcomes, reports, leaderboard = [], {}, []
        for index, group in enumerate(config["groups"], start=1):
            expected = config["expected"].get(group["name"], [])
            graded, report = grade_group(group, index, expected, workspace, missing)
            outcomes.extend(graded)
            reports[group["name"]] = report
            leaderboard.extend(feedback.leaderboard_entries(group, report))
    output = feedback.overall_message(module, outcomes, missing)
    return GradeResult(tests=outcomes, output=output, leaderboard=leaderboard), merge_reports(reports)


@dataclass
class Workspace:
    """Where one grading run happens (bundle, scratch folder, tree) and until when it may run."""

    source: Path
    scratch: Path
    budget: float
    started: float = field(default_factory=time.monotonic)

    @property
    def tree(self) -> Path:
        return self.scratch / "tree"

    def seconds_left(self) -> float:
        return self.started + self.budget - time.monotonic()


def grade_group(group: dict, index: int, expected: list[str], workspace: Workspace,
                missing: list[str]) -> tuple[list[TestOutcome], dict]:
    """Run one group (unless files are missing or the budget is spent) and grade its tests."""
    if missing:
        return feedback.fill_missing(group, index, expected, feedback.missing_files_message(missing)), {}
    if workspace.seconds_left() < MIN_GROUP_SECONDS:
        return feedback.fill_missing(group, index, expected, feedback.budget_message(workspace.budget)), {}
    report = run_group(group, len(expected), workspace)
    return feedback.grade_group(group, index, expected, report), report


def overlay(owned: list[str], submission: Path, tree: Path) -> list[str]:
    """Copy only the module's own files from the submission into the tree; returns what is missing.

    A file is accepted at its package path from the submission root (``tinytorch/core/tensor.py``),
    under one extra folder (a zipped repository), or by its unique file name anywhere.
    """
    missing = []
    for relative in owned:
        found = find_submitted(relative, submission)
        target = tree / relative
        if found is None:
            missing.append(relative)
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found, target)
    return missing


def find_submitted(relative: str, submission: Path) -> Path | None:
    if not submission.is_dir():
        return None
    direct = submission / relative
    if direct.is_file():
        return direct
    nested = [p for p in submission.glob(f"*/{relative}") if p.is_file()]
    nested += [p for p in submission.glob(f"*/*/{relative}") if p.is_file()]
    if len(nested) == 1:
        return nested[0]
    by_name = [p for p in submission.rglob(Path(relative).name) if p.is_file() and ".git" not in p.parts]
    return by_name[0] if len(by_name) == 1 else None


def run_group(group: dict, n_tests: int, workspace: Workspace) -> dict:
    """Run one group's test file in its own process group, killed at its wall-clock limit.

    The limit is the per-test timeout times the number of tests plus a margin for start-up,
    capped by what is left of the module's budget.
    """
    tree = workspace.tree
    report_file = workspace.scratch / f"report-{group['name']}.json"
    progress_file = workspace.scratch / f"progress-{group['name']}.jsonl"
    limit = min(group["timeout"] * max(n_tests, 1) + STARTUP_SECONDS, workspace.seconds_left())
    command = [
        sys.executable, "-m", "pytest", group["path"],
        "-q", "--tb=short", "-c", str(tree / "pytest.ini"), "--rootdir", str(tree),
        "-p", "no:cacheprovider", "-p", "no:tinytorch_grader", "-p", "tinytorch_grader.fixtures",
        "-p", "tinytorch_grader.plugin", f"--tt-grade={progress_file}",
        "--json-report", f"--json-report-file={report_file}", "--json-report-indent=0",
        f"--timeout={group['timeout']}", "--timeout-method=signal",
        "--continue-on-collection-errors",
    ]
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=tree, env=_environment(group, tree, workspace.source),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        stdout, _ = process.communicate(timeout=limit)
        killed = None
    except subprocess.TimeoutExpired:
        _kill_group(process)
        stdout, _ = process.communicate()
        killed = f"the whole group was stopped after {limit:.0f} s (a test ran too long: an infinite loop?)"
    report = _read_report(report_file, tree)
    report["_progress"] = _read_progress(progress_file, tree)
    report["_grader"] = {
        "returncode": process.returncode,
        "killed": killed,
        "seconds": round(time.monotonic() - started, 3),
        "stdout_tail": stdout.decode("utf-8", "replace")[-4000:] if stdout else "",
    }
    return report


def _environment(group: dict, tree: Path, source: Path) -> dict:
    """A clean environment: the tree first on the path, fixed seeds, one BLAS thread."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TINYTORCH_"))}
    env.update({
        "PYTHONPATH": os.pathsep.join([str(tree), str(GRADER_PACKAGE_DIR)]),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TINYTORCH_TEST_SEED": "0",
        "TINYTORCH_REFERENCE_DIR": str(source / "reference_copy"),
        "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS", "1"),
    })
    if group.get("max_ratio"):
        env["TINYTORCH_MAX_RATIO"] = str(group["max_ratio"])
    return env


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _read_report(path: Path, tree: Path) -> dict:
    """The group's pytest-json-report, with the scratch tree's path removed from messages."""
    try:
        return json.loads(path.read_text(encoding="utf-8").replace(f"{tree}/", ""))
    except (OSError, ValueError):
        return {}


def merge_reports(reports: dict[str, dict]) -> dict:
    """One pytest-json-report for the module: every group's tests and collectors, summed counts,
    and per group what the runner saw (exit code, kill, duration, output tail).

    Tests known only from a killed group's progress file are included with ``"partial": true``.
    """
    merged = {"tests": [], "collectors": [], "summary": {}, "groups": {}}
    for name, report in reports.items():
        tests = report.get("tests", [])
        reported = {test["nodeid"] for test in tests}
        partial = [{**entry, "partial": True} for nodeid, entry in report.get("_progress", {}).items()
                   if nodeid not in reported]
        merged["tests"] += tests + partial
        merged["collectors"] += report.get("collectors", [])
        for key, count in report.get("summary", {}).items():
            if isinstance(count, (int, float)):
                merged["summary"][key] = merged["summary"].get(key, 0) + count
        merged["groups"][name] = {"exitcode": report.get("exitcode"), **report.get("_grader", {})}
        merged.setdefault("environment", report.get("environment"))
    return merged


def _read_progress(path: Path, tree: Path) -> dict:
    """Tests that finished before a group was killed (written one line per test by the fixtures plugin)."""
    entries = {}
    try:
        lines = path.read_text(encoding="utf-8").replace(f"{tree}/", "").splitlines()
    except OSError:
        return entries
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        entries[entry["nodeid"]] = entry
    return entries


def _write_json(path: Path, data: dict) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
    temporary.replace(path)
