"""Ctrl-C in the middle of make grade-batch, then the same command again: the same results as one run.

The batch runs as a real process (``python -m coursetools grade-batch``, what the Makefile calls),
gets SIGINT once its first result is stored (one submission then in flight, one queued), and must
stop at once: exit 130, one line saying how to resume, no traceback, no worker left running, no
half-written result folder. The rerun grades exactly what is missing, and the results match an
uninterrupted batch test for test.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from coursetools.grade import batch, engines
from tinytorch_grader import temp_folders

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # about eight gradings of module 01


@pytest.fixture(scope="module")
def submissions(released_01, tmp_path_factory):
    folder = tmp_path_factory.mktemp("interrupt") / "submissions"
    folder.mkdir()
    shutil.copytree(released_01["solution"], folder / "alice", ignore=shutil.ignore_patterns(".git"))
    shutil.copytree(released_01["skeleton"], folder / "bob", ignore=shutil.ignore_patterns(".git"))
    broken = folder / "carol" / "tinytorch" / "core"
    broken.mkdir(parents=True)
    (broken / "tensor.py").write_text("def oops(:\n")
    return folder


def batch_command(submissions: Path, results: Path, dist: Path, jobs: int) -> list[str]:
    return [sys.executable, "-m", "coursetools", "grade-batch", "--module", "01", "--submissions", str(submissions),
            "--results", str(results), "--jobs", str(jobs), "--dist", str(dist)]


def grade_batch(submissions: Path, results: Path, dist: Path, jobs: int) -> subprocess.Popen:
    return subprocess.Popen(batch_command(submissions, results, dist, jobs), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def outcome_of(results: Path) -> dict:
    """{student: (score, [(test, status, score)])}: what must not depend on being interrupted."""
    found = {}
    for path in sorted(results.glob("*/results.json")):
        data = json.loads(path.read_text())
        found[path.parent.name] = (data["score"], [(t["name"], t["status"], t["score"]) for t in data["tests"]])
    return found


def workers_mentioning(text: str) -> list[int]:
    alive = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and text in Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace"):
                alive.append(int(entry))
        except OSError:
            continue
    return alive


@pytest.fixture
def own_temp_folder():
    """A temp folder for one batch (its TMPDIR), traversable like /tmp so the sandbox reaches its run folders."""
    top = Path(tempfile.mkdtemp(prefix="tinytorch-test-tmp-"))
    os.chmod(top, 0o711)
    yield top
    shutil.rmtree(top, ignore_errors=True)


def test_interrupt_then_rerun_equals_one_uninterrupted_run(submissions, released_01, tmp_path, ctrl_c_after_first_result,
                                                           own_temp_folder):
    dist = released_01["gradescope"].parents[2]
    results = tmp_path / "results"
    in_a_group = lambda: any(own_temp_folder.glob("tinytorch-run-*/home"))  # noqa: E731
    ctrl_c_after_first_result(batch_command(submissions, results, dist, jobs=1), results, cwd=ROOT,
                              env={**os.environ, "TMPDIR": str(own_temp_folder)}, also=in_a_group)
    grace = time.monotonic() + 5
    while workers_mentioning(str(submissions)) and time.monotonic() < grace:
        time.sleep(0.1)
    assert not workers_mentioning(str(submissions)), "a grading worker outlived the batch"
    left = [p.name for p in own_temp_folder.iterdir() if p.name.startswith(temp_folders.PREFIXES)]
    assert not left, f"the killed grading left its folders: {left}"
    index = json.loads((results / "index.json").read_text())["submissions"]
    statuses = sorted(entry["status"] for entry in index.values())
    assert statuses.count("graded") >= 1 and "pending" in statuses, index
    for folder in results.iterdir():
        if folder.name in index:
            assert (folder / "status.json").is_file() and (folder / "results.json").is_file(), folder
    assert not any((results / ".staging").glob("*")) if (results / ".staging").exists() else True
    graded_before = {name for name, e in index.items() if e["status"] == "graded"}
    stamps = {name: (results / name / "results.json").stat().st_mtime_ns for name in graded_before}

    rerun = grade_batch(submissions, results, dist, jobs=1)
    stdout, stderr = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, stdout + stderr
    assert f"{3 - len(graded_before)} to grade, {len(graded_before)} already graded" in stdout
    assert all((results / name / "results.json").stat().st_mtime_ns == stamp for name, stamp in stamps.items())

    straight = tmp_path / "straight"
    once = grade_batch(submissions, straight, dist, jobs=2)
    stdout, stderr = once.communicate(timeout=600)
    assert once.returncode == 0, stdout + stderr
    assert outcome_of(results) == outcome_of(straight)
    assert set(outcome_of(results)) == {"alice", "bob", "carol"}
    assert "per minute" in stdout


def test_a_grader_failure_is_ungraded_with_its_reason_never_zero(submissions, tmp_path):
    broken_bundle = tmp_path / "gradescope.zip"
    import zipfile

    with zipfile.ZipFile(broken_bundle, "w") as zf:
        zf.writestr("grader.json", "{}")  # no run_autograder: the grader cannot start
    outcome = engines.grade_submission(broken_bundle, submissions / "alice", ("tinytorch/core/tensor.py",), "alice")
    assert outcome["status"] == "ungraded" and outcome["results"] is None
    assert "the grader failed" in outcome["reason"] and "run_autograder" in outcome["reason"]
    results = tmp_path / "results"
    batch.store_outcome(results, "alice", outcome)
    batch.write_index(results, "01", ["alice"])
    assert batch.finished_score(results / "alice") is None, "an ungraded submission is graded again on the rerun"
    assert not (results / "alice" / "results.json").exists()
    entry = json.loads((results / "index.json").read_text())["submissions"]["alice"]
    assert entry == {"status": "ungraded", "score": None, "reason": outcome["reason"]}


def test_a_worker_killed_from_outside_is_ungraded_and_says_by_what(submissions, released_01, tmp_path):
    stored = {}
    pool = engines.LocalPool(1)
    archive = released_01["gradescope"]

    def store(task, outcome):
        stored[task.name] = outcome

    original = pool._start

    def start_and_kill(*args):
        process = original(*args)
        time.sleep(0.3)
        engines.kill_tree(process.pid)
        return process

    pool._start = start_and_kill
    pool.run(archive, ("tinytorch/core/tensor.py",), [engines.Task("alice", submissions / "alice")], store)
    assert stored["alice"]["status"] == "ungraded"
    assert "killed by SIGKILL" in stored["alice"]["reason"] and "memory" not in stored["alice"]["reason"]


def test_the_graders_own_crash_is_ungraded_not_zero():
    crashed = {"score": 0.0, "tests": [], "output": "**Not graded**: the autograder itself failed, not your code."}
    assert "the grader failed, not the submission" in engines.grader_failure(crashed)
    assert engines.grader_failure({"score": 0.0, "tests": [], "output": "Visible tests: 0 / 50 points"}) is None
    assert engines.grader_failure({"score": 0.0, "tests": [], "extra_data": {"grading_error": True}})


def test_ctrl_c_waits_for_a_held_block_even_when_another_thread_takes_the_signal():
    """Dask's client runs an event-loop thread that does not block SIGINT: the kernel hands Ctrl-C
    to it, and Python used to raise KeyboardInterrupt in the main thread inside the held block
    (a result folder stored, the index not yet rewritten: a loaded make test caught it)."""
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)
    helper.start()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    finished = []
    try:
        with pytest.raises(KeyboardInterrupt):
            with engines.sigint_held():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.2)  # the interrupt used to land here
                finished.append("block done")
    finally:
        signal.signal(signal.SIGINT, previous)
        stop.set()
        helper.join()
    assert finished == ["block done"]


def test_a_held_ctrl_c_stays_ignored_when_sigint_was_ignored():
    """Under nohup (SIGINT ignored) the batch runs to its end: holding must not turn that into a stop."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with engines.sigint_held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        time.sleep(0.05)
    finally:
        signal.signal(signal.SIGINT, previous)
