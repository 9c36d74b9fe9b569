"""The grader's temp folders: what a killed grader leaves is removed by the next one, nothing else.

A folder left by a grader killed with SIGKILL holds sandbox-owned folders (``home``, ``exchange``);
a later grader that gets the same pid gets the same sandbox uids, so those folders would be its
sandbox's (and a leak check by uid, like the hostile suite's, finds them there).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tinytorch_grader import temp_folders

MAKE_THEN_DIE = """
import os, signal, sys
from tinytorch_grader import temp_folders
print(temp_folders.make(sys.argv[1]), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def killed_grader_folder(top, prefix="tinytorch-run-"):
    """A folder made by a process that was then killed with SIGKILL, as a killed grader leaves it."""
    done = subprocess.run([sys.executable, "-c", MAKE_THEN_DIE, prefix], env={**os.environ, "TMPDIR": str(top)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == -9, done.stderr
    folder = top / os.path.basename(done.stdout.strip())
    (folder / "home" / "tmp").mkdir(parents=True)
    return folder


def test_a_killed_makers_folder_is_swept_and_a_running_ones_stays(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    dead = killed_grader_folder(tmp_path)
    mine = temp_folders.make("tinytorch-grade-")
    assert dead.exists() and temp_folders.abandoned(dead) and not temp_folders.abandoned(mine)
    assert temp_folders.sweep() == [dead]
    assert not dead.exists() and mine.exists()


def test_a_reused_pid_does_not_keep_a_dead_makers_folder(tmp_path):
    """Same pid, other start time: the process that runs under that pid now is not the maker."""
    folder = tmp_path / "tinytorch-run-reused"
    folder.mkdir()
    me = temp_folders.identity(os.getpid())
    assert me and me.startswith(f"{os.getpid()}:")
    (folder / temp_folders.OWNER_FILE).write_text(f"{os.getpid()}:1", encoding="utf-8")
    assert temp_folders.sweep(tmp_path) == [folder]


def test_unmarked_folders_go_only_when_old_and_only_with_the_graders_prefixes(tmp_path):
    old = time.time() - 2 * temp_folders.UNMARKED_AGE_SECONDS
    young, aged, foreign = (tmp_path / "tinytorch-run-young", tmp_path / "tinytorch-grade-aged",
                            tmp_path / "autograder-someone-elses")
    for folder in (young, aged, foreign):
        folder.mkdir()
    for folder in (aged, foreign):
        os.utime(folder, (old, old))
    assert temp_folders.sweep(tmp_path) == [aged]
    assert young.exists() and foreign.exists()


def test_a_prefix_the_sweep_does_not_know_is_refused(tmp_path):
    try:
        temp_folders.make("grader-")
    except ValueError as error:
        assert "tinytorch-run-" in str(error)
    else:
        raise AssertionError("make() accepted a prefix that sweep() would never clean")


def test_a_grading_removes_what_a_killed_grader_left_and_leaves_nothing_itself(released_01, monkeypatch):
    """The real path (``make grade``): bundle, grader, sandboxed groups, in a temp folder of its own."""
    from coursetools.grade.submission import grade_with_bundle

    top = Path(tempfile.mkdtemp(prefix="tinytorch-test-tmp-"))
    os.chmod(top, 0o711)  # like /tmp, the sandbox uid must pass through it to its run folder
    try:
        monkeypatch.setenv("TMPDIR", str(top))
        monkeypatch.setattr("tempfile.tempdir", str(top))
        dead, dead_root = killed_grader_folder(top), killed_grader_folder(top, "tinytorch-root-")
        results = grade_with_bundle(released_01["gradescope"], released_01["solution"], top / "out" / "results.json")
        assert results["score"] == results["extra_data"]["max_score"]
        assert not dead.exists() and not dead_root.exists()
        assert sorted(p.name for p in top.iterdir()) == ["out"]
    finally:
        shutil.rmtree(top, ignore_errors=True)
