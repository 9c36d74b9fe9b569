"""Grade one submission: overlay, run each test group sandboxed, write results.json.

Layout (Gradescope's): ``<autograder>/source`` is the unzipped bundle, ``<autograder>/submission``
the student's files, ``<autograder>/results`` where results.json goes. The bundle holds
``grader.json`` (the module's slice of the manifest plus the test ids expected per group),
``tree/`` (earlier modules, tests, conftest) and ``reference_copy/`` (for timed ratio tests).

Whatever the submission does, this writes a complete results.json and exits 0. This process is
the trusted parent: it holds the results in memory and writes results.json only after every
process the groups started is dead (``tinytorch_grader.sandbox``; guarantees in docs/SECURITY.md).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from tinytorch_grader import feedback, intake, isolation, sandbox, temp_folders
from tinytorch_grader.results import GradeResult, TestOutcome

GRADER_PACKAGE_DIR = Path(__file__).resolve().parent.parent
MIN_GROUP_SECONDS = 5
"""A group is not started when less than this is left of the module's budget."""


def main(*, autograder_dir: str = "/autograder") -> GradeResult:
    """Grade ``<autograder_dir>/submission`` and write ``<autograder_dir>/results/results.json``."""
    root = Path(autograder_dir)
    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    lock_down(root)
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


def lock_down(root: Path) -> None:
    """As root: the bundle, the submission and the results only for root (the sandbox uid is not)."""
    if not sandbox.is_root():
        return
    for name in ("source", "submission", "results"):
        folder = root / name
        if folder.is_dir():
            os.chown(folder, 0, 0)
            folder.chmod(0o700 if name != "results" else 0o755)


def grader_failure(config: dict, trace: str) -> GradeResult:
    """Every expected test at 0 (when grader.json could be read) with the grader's own error."""
    message = ("**Not graded**: the autograder itself failed, not your code. Please tell your instructor.\n\n"
               "```text\n" + trace[-3000:] + "\n```")
    outcomes = []
    for index, group in enumerate(config.get("groups", []), start=1):
        expected = config.get("expected", {}).get(group["name"], [])
        outcomes.extend(feedback.fill_missing(group, index, expected, message))
    reason = (trace.strip().splitlines() or ["unknown error"])[-1][:500]
    return GradeResult(tests=outcomes, output=message, extra_data={"grading_error": reason})


def grade(config: dict, source: Path, submission: Path) -> tuple[GradeResult, dict]:
    """Overlay the owned files onto a fresh tree and run every group; returns results and reports.

    Groups run visible ones first, so a hidden group's process (which can read its own test file)
    runs after every visible group's; results keep the manifest's order.
    """
    module = config["module"]
    sandbox.become_subreaper()
    temp_folders.sweep()  # what graders killed before they could clean up left
    with temp_folders.folder("tinytorch-grade-") as scratch:
        workspace = Workspace(source=source, scratch=scratch, budget=float(module["budget"]),
                              limits=sandbox.Limits.from_config(config.get("limits")), uid=sandbox.choose_uid(),
                              runtime=module.get("runtime", "remote"))
        shutil.copytree(source / "tree", workspace.tree)
        missing = intake.overlay(module["files"], submission, workspace.tree)
        workspace.trusted = trusted_modules(workspace.tree, module["files"])
        graded: dict[int, list[TestOutcome]] = {}
        reports, leaderboard = {}, []
        for index, group in execution_order(config["groups"]):
            expected = config["expected"].get(group["name"], [])
            graded[index], reports[group["name"]] = grade_group(group, index, expected, workspace, missing)
        for group in config["groups"]:
            leaderboard.extend(feedback.leaderboard_entries(group, reports[group["name"]]))
    outcomes = [outcome for index in sorted(graded) for outcome in graded[index]]
    refused = intake.refused_entries(submission) if missing and submission.is_dir() else []
    output = feedback.overall_message(module, outcomes, missing, refused)
    merged = merge_reports({g["name"]: reports[g["name"]] for g in config["groups"]})
    result = GradeResult(tests=outcomes, output=output, leaderboard=leaderboard,
                         extra_data={"isolation": merged.get("isolation", {})})
    return result, merged


def execution_order(groups: list[dict]) -> list[tuple[int, dict]]:
    """(manifest index, group) pairs, visible groups first, each kind in manifest order."""
    indexed = list(enumerate(groups, start=1))
    return sorted(indexed, key=lambda pair: pair[1]["visibility"] != "visible")


def trusted_modules(tree: Path, owned: list[str]) -> list[str]:
    """Dotted names of the bundle's own tinytorch modules (earlier modules), not the student's."""
    names = []
    for path in sorted((tree / "tinytorch").rglob("*.py")):
        relative = path.relative_to(tree)
        if relative.as_posix() in owned:
            continue
        parts = relative.with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


@dataclass
class Workspace:
    """Where one grading run happens (bundle, scratch folder, tree), its limits and sandbox user."""

    source: Path
    scratch: Path
    budget: float
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    uid: int | None = None
    trusted: list[str] = field(default_factory=list)
    runtime: str = "remote"
    started: float = field(default_factory=time.monotonic)

    @property
    def tree(self) -> Path:
        """The pristine tree with the submission's owned files; only the parent reads it."""
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
    report = run_group(group, len(expected), workspace, expected)
    return feedback.grade_group(group, index, expected, report), report


def run_group(group: dict, n_tests: int, workspace: Workspace, expected: list[str] | None = None) -> dict:
    """Run one group's test file, stopped at its wall-clock limit; its report from the channel.

    The limit is the per-test timeout times the number of tests plus a margin for start-up,
    capped by what is left of the module's budget. With ``runtime = "remote"`` (the default) the
    test process is trusted and never imports the submission: it holds only this group's test file
    and reaches the student's code through ``tinytorch_grader.remote`` servers, each sandboxed as
    its own uid. With ``runtime = "in-process"`` the whole pytest process is the sandbox.
    """
    limit = min(group["timeout"] * max(n_tests, 1) + workspace.limits.startup_seconds, workspace.seconds_left())
    run_dir = temp_folders.make("tinytorch-run-")
    remote = workspace.runtime == "remote"
    known_children = sandbox._children()
    uid = workspace.uid
    viewed = False  # whether every sandboxed process had its own filesystem view (then no shared-folder walk)
    try:
        tree = prepare_run_dir(run_dir, group, workspace, remote=remote)
        uid, python, site = _sandbox_python(workspace.uid)
        command = [
            python, "-s", "-B", "-m", "pytest", group["path"],
            "-q", "--tb=short", "-c", str(tree / "pytest.ini"), "--rootdir", str(tree),
            "-p", "no:cacheprovider", "-p", "pytest_jsonreport.plugin", "-p", "pytest_timeout",
            "-p", "tinytorch_grader.fixtures", "-p", "tinytorch_grader.plugin",
            "--tt-grade=fd:" + sandbox.CHANNEL_FD_PLACEHOLDER, "--json-report", "--json-report-file=none",
            f"--timeout={group['timeout']}", "--timeout-method=signal", "--continue-on-collection-errors",
        ]
        env = _environment(group, run_dir, site, workspace.trusted)
        if remote:
            command[6:6] = ["-p", "tinytorch_grader.remote.pytest_plugin", "--basetemp", str(run_dir / "exchange" / "base")]
            env.update(_remote_environment(group, run_dir, workspace, python, site, uid, limit))
            record = sandbox.run(command, cwd=tree, env=env, wall_seconds=limit, limits=workspace.limits, uid=None,
                                 confine=False)  # trusted: it confines the student's servers itself
        else:
            record = sandbox.run(command, cwd=tree, env=env, wall_seconds=limit, limits=workspace.limits, uid=uid)
        if uid is None and workspace.uid is not None:
            record.isolation.why_not.append(sandbox.UNREACHABLE_PYTHON)
        report = read_channel(record.channel, tree, expected)
        confined = record.isolation.to_dict()
        if remote:
            confined = report.get("_grader", {}).pop("remote_isolation", None) or confined
        viewed = confined.get("filesystem_isolated") is True
        report["_grader"] = {
            **report.get("_grader", {}),
            "returncode": record.returncode,
            "killed": record.killed,
            "seconds": record.seconds,
            "stdout_tail": record.output.replace(f"{tree}/", "")[-4000:],
            "isolation": confined,
        }
        return report
    finally:  # whatever the test process did or failed to do, no process of the servers' uids survives
        sandbox.clear_away(run_dir, [uid, sandbox.choose_uid(REFERENCE_UID_OFFSET) if uid is not None else None],
                           known_children, shared_folders=not viewed)


def _remote_environment(group: dict, run_dir: Path, workspace: Workspace, python: str, site: list[str],
                        uid: int | None, wall_seconds: float) -> dict:
    """How the trusted test process starts the student's server (and the reference's, when timed)."""
    from tinytorch_grader.remote import launch

    limits = {key: getattr(workspace.limits, key) for key in workspace.limits.__dataclass_fields__}
    common = dict(python=python, lib=str(run_dir / "lib"), site=site, limits=limits, cpu_seconds=wall_seconds)
    env = {launch.STUDENT_ENV: launch.make_spec(tree=str(run_dir / "student"), home=str(run_dir / "home"),
                                                uid=uid, shared=[str(run_dir / "exchange")], **common),
           "TINYTORCH_REMOTE_TIMEOUT": str(group["timeout"]),
           **isolation.probed_env()}  # it confines the servers with what this grader already probed
    if group.get("max_ratio"):
        reference_uid = sandbox.choose_uid(REFERENCE_UID_OFFSET) if uid is not None else None
        env[launch.REFERENCE_ENV] = launch.make_spec(
            tree=str(run_dir / "reference"), home=str(run_dir / "reference_home"), uid=reference_uid, **common)
        sandbox.prepare_home(run_dir / "reference_home", reference_uid)
        if reference_uid is not None:
            _own_tree(run_dir / "reference", reference_uid)
    return env


REFERENCE_UID_OFFSET = 1
"""``choose_uid`` offset of the reference server: another user than the student's, so the student's
process cannot read the reference copy or signal the process being timed against it."""


def _own_tree(top: Path, uid: int) -> None:
    """Only ``uid`` (and root) may read ``top``."""
    for folder, dirs, files in os.walk(top):
        os.chown(folder, uid, uid)
        os.chmod(folder, 0o500)
        for name in files:
            os.chown(os.path.join(folder, name), uid, uid)
            os.chmod(os.path.join(folder, name), 0o400)


def _sandbox_python(uid: int | None) -> tuple[int | None, str, list[str]]:
    """(uid, python, extra sys.path) for the child: the sandbox uid only when it can run Python."""
    found = sandbox.interpreter(uid)
    if found is None:
        return None, sys.executable, []
    return uid, found[0], found[1]


def prepare_run_dir(run_dir: Path, group: dict, workspace: Workspace, remote: bool = False) -> Path:
    """run_dir/{tree, lib, reference_copy, home}: root-owned and read-only except home.

    ``tree`` is the pristine tree with only this group's test file; ``reference_copy`` is filled
    for timed groups only (they time the student's code against it). With ``remote``, ``tree``
    holds no code at all (tests, conftest, pytest.ini: readable by root only), ``student`` the
    package the student's server imports, ``reference`` the package of the reference's server
    (timed groups), and ``exchange`` the folder both sides use for ``tmp_path``.
    """
    run_dir.chmod(0o711)
    tree = run_dir / "tree"
    shutil.copytree(workspace.tree, tree, ignore=_other_tests(workspace.tree, group["path"]))
    shutil.copytree(GRADER_PACKAGE_DIR / "tinytorch_grader", run_dir / "lib" / "tinytorch_grader",
                    ignore=shutil.ignore_patterns("__pycache__"))
    reference = run_dir / "reference_copy"
    if group.get("max_ratio") and (workspace.source / "reference_copy").is_dir():
        shutil.copytree(workspace.source / "reference_copy", reference)
    else:
        reference.mkdir()
    if remote:
        shutil.move(str(tree / "tinytorch"), str(run_dir / "student" / "tinytorch")) if (tree / "tinytorch").is_dir() \
            else (run_dir / "student").mkdir()
        if group.get("max_ratio"):
            shutil.copytree(run_dir / "student", run_dir / "reference")
            shutil.copytree(reference, run_dir / "reference", dirs_exist_ok=True)
        shutil.rmtree(reference)
        reference.mkdir()
        for path in [run_dir / "lib", run_dir / "student"]:
            _make_read_only(path)
        _make_read_only(tree)
        tree.chmod(0o700)
        sandbox.prepare_home(run_dir / "home", workspace.uid)
        (run_dir / "exchange").mkdir()
        if workspace.uid is not None:
            os.chown(run_dir / "exchange", workspace.uid, workspace.uid)
        (run_dir / "exchange").chmod(0o711)
        return tree
    for path in [run_dir / "lib", tree, reference]:
        _make_read_only(path)
    sandbox.prepare_home(run_dir / "home", workspace.uid)
    return tree


def _other_tests(tree: Path, keep: str):
    """copytree ignore function: drop every test file of the tests folders except ``keep``."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        relative = Path(folder).relative_to(tree)
        if not relative.parts or relative.parts[0] not in ("tests", "hidden_tests"):
            return set()
        return {name for name in names
                if not (Path(folder) / name).is_dir() and (relative / name).as_posix() != keep}

    return ignore


def _make_read_only(top: Path) -> None:
    for folder, dirs, files in os.walk(top):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


def _environment(group: dict, run_dir: Path, site: list[str], trusted: list[str]) -> dict:
    """A minimal environment (nothing inherited but PATH and locale): the tree first on the path,
    fixed seeds, one BLAS thread, only the plugins named on the command line."""
    home = run_dir / "home"
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "PYTHONPATH": os.pathsep.join([str(run_dir / "tree"), str(run_dir / "lib"), *site]),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "TINYTORCH_TEST_SEED": "0",
        "TINYTORCH_REFERENCE_DIR": str(run_dir / "reference_copy"),
        "TINYTORCH_TRUSTED_MODULES": ",".join(trusted),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    if os.environ.get("LD_LIBRARY_PATH"):  # a Python built with a shared libpython may need it to start
        env["LD_LIBRARY_PATH"] = os.environ["LD_LIBRARY_PATH"]
    if group.get("max_ratio"):
        env["TINYTORCH_MAX_RATIO"] = str(group["max_ratio"])
    return env


VALID_OUTCOMES = {"passed", "failed", "error", "skipped", "xfailed", "xpassed"}


def read_channel(text: str, tree: Path, expected: list[str] | None) -> dict:
    """The group's report from the channel lines, validated: only expected test ids with a known
    outcome count; a line that is not JSON of the right shape is ignored; tampering is kept."""
    allowed = set(expected) if expected is not None else None
    report: dict = {"tests": [], "collectors": [], "_progress": {}, "_grader": {}}
    tampered: list[str] = []
    for line in text.replace(f"{tree}/", "").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(entry, dict):
            continue
        kind = entry.get("kind")
        if kind == "progress" and _valid_test(entry, allowed):
            report["_progress"][entry["nodeid"]] = entry
        elif kind == "tampered" and isinstance(entry.get("changes"), list):
            tampered += [str(change)[:300] for change in entry["changes"]]
        elif kind == "isolation" and isinstance(entry.get("isolation"), dict):
            report["_grader"]["remote_isolation"] = entry["isolation"] or None
        elif kind == "report" and isinstance(entry.get("report"), dict):
            report.update(_valid_report(entry["report"], allowed))
    if tampered:
        report["_grader"]["tampered"] = tampered
    return report


def _valid_test(entry: object, allowed: set[str] | None) -> bool:
    return (isinstance(entry, dict) and isinstance(entry.get("nodeid"), str)
            and entry.get("outcome") in VALID_OUTCOMES and (allowed is None or entry["nodeid"] in allowed))


def _valid_report(report: dict, allowed: set[str] | None) -> dict:
    tests = report.get("tests") if isinstance(report.get("tests"), list) else []
    collectors = report.get("collectors") if isinstance(report.get("collectors"), list) else []
    summary = report.get("summary") if isinstance(report.get("summary"), dict) else {}
    return {
        "tests": [test for test in tests if _valid_test(test, allowed)],
        "collectors": [c for c in collectors if isinstance(c, dict)],
        "summary": summary,
        "exitcode": report.get("exitcode"),
        "environment": report.get("environment"),
    }


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
        if "isolation" in report.get("_grader", {}):
            merged.setdefault("isolation", report["_grader"]["isolation"])
    return merged


def _write_json(path: Path, data: dict) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
    temporary.replace(path)
