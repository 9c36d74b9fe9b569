"""The grader runtime on small synthetic bundles: overlay, broken submissions, timeouts, kills.

Each test writes a Gradescope-like tree (source/, submission/, results/) holding a toy module
``tinytorch/core/toy.py`` and calls ``tinytorch_grader.run.main`` on it, so these run in seconds
and do not depend on the reference modules.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tinytorch_grader import run
from tinytorch_grader.plugin import check_tinytorch_is_inside

OWNED = "tinytorch/core/toy.py"
SOLUTION = '''"""The student's toy module."""
ORIGIN = "submission"


def double(x):
    return 2 * x


def triple(x):
    return 3 * x
'''
BASICS = '''
from tinytorch.core.toy import double, triple


def test_double():
    """double(x) returns 2 * x."""
    assert double(2) == 4


def test_triple():
    assert triple(2) == 6
'''
HIDDEN = '''
from tinytorch.core import toy


def test_double_of_negative():
    assert toy.double(-1) == -2
'''


@dataclass
class ToyGroup:
    name: str
    source: str
    visibility: str = "visible"
    timeout: float = 10
    points: float = 10
    max_ratio: float | None = None
    leaderboard: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        folder = "tests" if self.visibility == "visible" else "hidden_tests"
        return f"{folder}/01_toy/test_{self.name}.py"

    def to_json(self) -> dict:
        return {"name": self.name, "title": self.name.title(), "points": self.points,
                "visibility": self.visibility, "timeout": self.timeout, "max_ratio": self.max_ratio,
                "leaderboard": list(self.leaderboard), "path": self.path}

    def expected(self) -> list[str]:
        return [f"{self.path}::{name}" for name in re.findall(r"^def (test_\w+)", self.source, re.MULTILINE)]


DEFAULT_GROUPS = (ToyGroup("basics", BASICS), ToyGroup("hidden", HIDDEN, visibility="after_due_date"))


def write_bundle(root: Path, groups=DEFAULT_GROUPS, budget: float = 60) -> Path:
    """An unzipped bundle at root/source with a tinytorch package that lacks the owned file."""
    source = root / "source"
    tree = source / "tree"
    for package in ("tinytorch", "tinytorch/core"):
        (tree / package).mkdir(parents=True, exist_ok=True)
        (tree / package / "__init__.py").write_text("")
    (tree / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    for group in groups:
        (tree / group.path).parent.mkdir(parents=True, exist_ok=True)
        (tree / group.path).write_text(group.source)
    reference = source / "reference_copy" / OWNED
    reference.parent.mkdir(parents=True)
    reference.write_text(SOLUTION.replace('"submission"', '"reference copy"'))
    config = {
        "module": {"number": "01", "slug": "toy", "title": "Toy", "package": "tinytorch.core.toy",
                   "files": [OWNED], "budget": budget},
        "groups": [group.to_json() for group in groups],
        "expected": {group.name: group.expected() for group in groups},
    }
    (source / "grader.json").write_text(json.dumps(config))
    return root


def submit(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / "submission" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "submission").mkdir(exist_ok=True)


def grade(root: Path) -> dict:
    run.main(autograder_dir=str(root))
    return json.loads((root / "results" / "results.json").read_text())


def graded_tests(data: dict) -> list[dict]:
    """The graded tests, without the summary entry."""
    return [t for t in data["tests"] if "summary" not in t["tags"]]


def test_correct_submission_scores_full_marks_with_names_and_numbers(tmp_path):
    root = write_bundle(tmp_path)
    submit(root, {OWNED: SOLUTION})
    data = grade(root)
    assert data["score"] == pytest.approx(20)
    assert [(t["number"], t["name"]) for t in graded_tests(data)] == [
        ("1.1", "Basics › test_double"), ("1.2", "Basics › test_triple"), ("2.1", "Hidden › test_double_of_negative"),
    ]
    assert [t["visibility"] for t in graded_tests(data)] == ["visible", "visible", "after_due_date"]
    assert graded_tests(data)[0]["max_score"] == pytest.approx(5)


def test_only_the_owned_file_is_taken_from_the_submission(tmp_path):
    root = write_bundle(tmp_path)
    submit(root, {
        OWNED: SOLUTION,
        "conftest.py": "raise SystemExit('a submitted conftest must never run')\n",
        "tinytorch/__init__.py": "raise SystemExit('a submitted package __init__ must never run')\n",
        "tests/01_toy/test_basics.py": "def test_double():\n    assert False\n",
    })
    assert grade(root)["score"] == pytest.approx(20)


def test_the_owned_file_is_found_inside_a_repository_folder_or_alone(tmp_path):
    nested = write_bundle(tmp_path / "nested")
    submit(nested, {f"my-repo/{OWNED}": SOLUTION})
    alone = write_bundle(tmp_path / "alone")
    submit(alone, {"toy.py": SOLUTION})
    assert grade(nested)["score"] == pytest.approx(20) and grade(alone)["score"] == pytest.approx(20)


def test_the_tree_copy_of_tinytorch_wins_over_an_installed_one(tmp_path):
    """The course repo's tinytorch is installed in this environment and has no toy module: the
    test passes only when the student's server imports the submission's tree."""
    source = ("def test_tinytorch_is_the_trees():\n"
              "    from tinytorch.core.toy import triple\n"
              "    assert triple(2) == 6\n")
    group = ToyGroup("origin", source)
    root = write_bundle(tmp_path, groups=(group,))
    submit(root, {OWNED: SOLUTION})
    assert grade(root)["score"] == pytest.approx(10)


def test_tinytorch_outside_the_tree_stops_the_session(tmp_path):
    with pytest.raises(pytest.UsageError, match="shadows the submission"):
        check_tinytorch_is_inside(tmp_path)


def test_syntax_error_gives_zero_and_names_file_line_and_error(tmp_path):
    root = write_bundle(tmp_path)
    submit(root, {OWNED: SOLUTION.replace("def triple(x):", "def triple(x)")})
    data = grade(root)
    assert data["score"] == 0 and len(graded_tests(data)) == 3
    for test in graded_tests(data):
        assert "SyntaxError" in test["output"] and "toy.py" in test["output"] and "line 9" in test["output"]


def test_missing_file_gives_zero_and_names_the_file(tmp_path):
    root = write_bundle(tmp_path)
    submit(root, {"README.md": "nothing here"})
    data = grade(root)
    assert data["score"] == 0
    assert all(f"`{OWNED}` not found in your submission" in t["output"] for t in graded_tests(data))


def test_exception_at_import_time_gives_zero_with_its_message(tmp_path):
    root = write_bundle(tmp_path)
    submit(root, {OWNED: SOLUTION + "\nraise RuntimeError('broken on import')\n"})
    data = grade(root)
    assert data["score"] == 0 and all("broken on import" in t["output"] for t in graded_tests(data))


def test_infinite_loop_times_out_that_test_only(tmp_path):
    # 10 s: the passing test waits for the student's server to start, seconds on a loaded machine
    root = write_bundle(tmp_path, groups=(ToyGroup("basics", BASICS, timeout=10),))
    submit(root, {OWNED: SOLUTION.replace("    return 3 * x", "    while True:\n        pass")})
    data = grade(root)
    double, triple = graded_tests(data)
    assert double["score"] == pytest.approx(5)
    assert triple["score"] == 0 and "timed out after 10 s" in triple["output"]


UNINTERRUPTIBLE = '''
import signal
import time


def test_quick():
    assert True


def test_ignores_the_timeout_signal():
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    time.sleep(60)


def test_after():
    assert True
'''


def test_group_killed_by_the_wall_clock_keeps_finished_tests_and_later_groups_get_a_message(tmp_path):
    groups = (ToyGroup("stuck", UNINTERRUPTIBLE, timeout=1), ToyGroup("basics", BASICS))
    root = write_bundle(tmp_path, groups=groups, budget=8)
    submit(root, {OWNED: SOLUTION})
    started = time.monotonic()
    data = grade(root)
    assert time.monotonic() - started < 45  # stopped at the budget, not after the test's 60 s sleep
    quick, stuck, after, *later = graded_tests(data)
    assert quick["score"] == pytest.approx(10 / 3, abs=1e-3)
    assert stuck["score"] == 0 and "stopped after" in stuck["output"] and "stopped after" in after["output"]
    assert later and all("grading time" in t["output"] and t["score"] == 0 for t in later)


KILLED = '''
import os
import signal


def test_before():
    assert True


def test_uses_all_memory():
    os.kill(os.getpid(), signal.SIGKILL)
'''


def test_a_killed_test_process_is_reported_as_such(tmp_path):
    root = write_bundle(tmp_path, groups=(ToyGroup("memory", KILLED),))
    submit(root, {OWNED: SOLUTION})
    before, killed = graded_tests(grade(root))
    assert before["score"] == pytest.approx(5)
    assert killed["score"] == 0 and "killed by SIGKILL" in killed["output"] and "memory" in killed["output"]


TIMED = '''
def test_ratio(reference_module, max_ratio, record_metric):
    """The reference copy loads beside the submission."""
    from tinytorch.core import toy

    reference = reference_module("tinytorch.core.toy")
    assert (toy.ORIGIN, reference.ORIGIN, max_ratio) == ("submission", "reference copy", 3.0)
    record_metric("toy_ratio", 1.25)


def test_fails_with_a_hint():
    """Hint: this one always fails."""
    assert 1 == 2, "expected 1 to equal 2"
'''


def test_timed_group_gets_reference_copy_ratio_metrics_and_hints(tmp_path):
    group = ToyGroup("timed", TIMED, max_ratio=3.0, leaderboard=("toy_ratio:asc",))
    root = write_bundle(tmp_path, groups=(group,))
    submit(root, {OWNED: SOLUTION})
    data = grade(root)
    ratio, failing = graded_tests(data)
    assert ratio["score"] == pytest.approx(5), ratio["output"]
    assert ratio["extra_data"]["metrics"] == {"toy_ratio": 1.25}
    assert data["leaderboard"] == [{"name": "toy_ratio", "value": 1.25, "order": "asc"}]
    assert "expected 1 to equal 2" in failing["output"] and "Hint: this one always fails." in failing["output"]


def test_merged_report_holds_every_group(tmp_path):
    root = write_bundle(tmp_path)
    submit(root, {OWNED: SOLUTION})
    grade(root)
    report = json.loads((root / "results" / "report.json").read_text())
    assert len(report["tests"]) == 3 and report["summary"]["passed"] == 3
    assert set(report["groups"]) == {"basics", "hidden"}


def test_grader_error_still_writes_results_and_exits_zero(tmp_path):
    root = write_bundle(tmp_path)
    (root / "source" / "grader.json").write_text("{not json")
    submit(root, {OWNED: SOLUTION})
    graders = Path(run.__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "tinytorch_grader", "--autograder-dir", str(root)],
                          cwd=graders, capture_output=True, text=True, check=False)
    assert done.returncode == 0
    data = json.loads((root / "results" / "results.json").read_text())
    assert data["score"] == 0 and "autograder itself failed" in data["output"]


def test_grader_error_after_reading_the_config_still_lists_every_test(tmp_path):
    root = write_bundle(tmp_path)
    shutil.rmtree(root / "source" / "tree")
    submit(root, {OWNED: SOLUTION})
    data = grade(root)
    assert data["score"] == 0 and len(graded_tests(data)) == 3
    assert all("autograder itself failed" in t["output"] for t in graded_tests(data))


def _run_pytest(folder: Path, *options: str) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test_doc.py").write_text('def test_documented():\n    """The hint."""\n')
    graders = Path(run.__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tinytorch_grader.plugin",
                    "--json-report", "--json-report-file=report.json", *options],
                   cwd=folder, env={"PYTHONPATH": f"{folder}:{graders}", "PATH": "/usr/bin:/bin"},
                   capture_output=True, check=False)
    return json.loads((folder / "report.json").read_text())


def test_plugin_is_inert_without_its_option(tmp_path):
    (tmp_path / "tinytorch").mkdir()
    (tmp_path / "tinytorch" / "__init__.py").write_text("")
    plain = _run_pytest(tmp_path)
    assert "metadata" not in plain["tests"][0]
    graded = _run_pytest(tmp_path, f"--tt-grade={tmp_path / 'progress.jsonl'}")
    assert graded["tests"][0]["metadata"] == {"doc": "The hint.", "metrics": {}}
    first, *_, last = [json.loads(line) for line in (tmp_path / "progress.jsonl").read_text().splitlines()]
    assert (first["kind"], first["outcome"]) == ("progress", "passed")
    assert last["kind"] == "report" and last["report"]["tests"][0]["outcome"] == "passed"


def test_channel_lines_count_only_expected_tests_with_known_outcomes(tmp_path):
    lines = "\n".join([
        json.dumps({"kind": "progress", "nodeid": "t.py::test_a", "outcome": "passed"}),
        json.dumps({"kind": "progress", "nodeid": "t.py::test_made_up", "outcome": "passed"}),
        json.dumps({"kind": "progress", "nodeid": "t.py::test_b", "outcome": "excellent"}),
        "not json at all",
        json.dumps({"kind": "tampered", "changes": ["numpy.allclose was replaced"]}),
    ])
    report = run.read_channel(lines, tmp_path, ["t.py::test_a", "t.py::test_b"])
    assert list(report["_progress"]) == ["t.py::test_a"]
    assert report["_grader"]["tampered"] == ["numpy.allclose was replaced"]


def test_unknown_sandbox_limit_in_grader_json_is_named(tmp_path):
    from tinytorch_grader.sandbox import Limits

    assert Limits.from_config({"max_processes": 8}).max_processes == 8
    with pytest.raises(ValueError, match="unknown keys \\['max_procs'\\]"):
        Limits.from_config({"max_procs": 8})


def test_results_record_which_isolation_was_in_force(tmp_path):
    root = write_bundle(tmp_path)
    submit(root, {OWNED: SOLUTION})
    isolation = grade(root)["extra_data"]["isolation"]
    assert isolation["unprivileged_user"] == (os.geteuid() == 0)
    assert isolation["unprivileged_user"] or isolation["limitations"]


SPREADING = '''
from tinytorch.core.toy import triple


def test_before():
    assert triple(2) == 6


def test_the_code_kills_itself():
    triple(None)


def test_the_code_hangs():
    triple(-1)


def test_after():
    assert triple(3) == 9
'''
KILLING = SOLUTION + '''

import os as _os
import signal as _signal

_plain_triple = triple


def triple(x):
    if x is None:
        _os.kill(_os.getpid(), _signal.SIGKILL)
    while x == -1:
        pass
    return _plain_triple(x)
'''


def test_a_kill_or_a_hang_costs_only_its_own_test(tmp_path):
    """The student's server dies in one test and hangs in another: each costs that test, with the
    reason, and the tests after it run in a fresh server (remote runtime)."""
    root = write_bundle(tmp_path, groups=(ToyGroup("spreading", SPREADING, points=40, timeout=10),))
    submit(root, {OWNED: KILLING})
    before, killed, hung, after = graded_tests(grade(root))
    assert before["score"] == pytest.approx(10) and after["score"] == pytest.approx(10), after["output"]
    assert killed["score"] == 0 and "killed by SIGKILL" in killed["output"]
    assert hung["score"] == 0 and ("Timeout" in hung["output"] or "did not answer" in hung["output"])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_same_crashing_submission_gets_the_same_score_five_times(tmp_path):
    scores = []
    for attempt in range(5):  # a 5 s limit per test: each grading waits out one hang, and the others finish in well under 1 s
        root = write_bundle(tmp_path / str(attempt), groups=(ToyGroup("spreading", SPREADING, points=40, timeout=5),))
        submit(root, {OWNED: KILLING})
        scores.append(grade(root)["score"])
    assert scores == [20.0] * 5
