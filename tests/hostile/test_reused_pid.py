"""A grader that gets the pid of one killed earlier gets its sandbox uids: it must not get its folders.

Sandbox uids are derived from the grader's pid (``sandbox.choose_uid``), and a grader killed with
SIGKILL leaves its run folder, with ``home/`` and ``exchange/`` owned by those uids. This is how
the suite's leak check (by uid) failed CI twice: ``the submission left [.../exchange, .../home,
.../home/tmp]`` from a run folder the submission never made. The test makes that folder, forces
the next grader's pid onto the dead one's (``/proc/sys/kernel/ns_last_pid``, root only) and checks
that the grading starts by removing it.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from . import bundle

pytestmark = pytest.mark.slow
NEXT_PID = Path("/proc/sys/kernel/ns_last_pid")
ATTEMPTS = 8
"""Another process may fork between setting the next pid and the grader's fork; then try again."""


@pytest.mark.skipif(os.geteuid() != 0 or not NEXT_PID.exists(),
                    reason="choosing the next pid needs root and /proc/sys/kernel/ns_last_pid; without root the "
                           "grader has no sandbox uids to collide")
def test_a_dead_graders_run_folder_is_gone_before_a_grader_with_its_pid_runs(tmp_path, monkeypatch):
    pid = next(p for p in range(20_000 + os.getpid() % 10_000, 32_000) if not Path(f"/proc/{p}").exists())
    uid = bundle.sandbox_uids(pid)[0]
    stale = Path(tempfile.mkdtemp(prefix="tinytorch-run-"))
    for part in ("exchange", "home", "home/tmp"):
        (stale / part).mkdir()
        os.chown(stale / part, uid, uid)
    (stale / ".owner").write_text(f"{pid}:1", encoding="utf-8")  # its maker, long dead: another start time
    started = []
    popen = subprocess.Popen

    def grader_with_that_pid(*args, **kwargs):
        NEXT_PID.write_text(str(pid - 1))
        process = popen(*args, **kwargs)
        started.append(process.pid)
        return process

    monkeypatch.setattr(bundle.subprocess, "Popen", grader_with_that_pid)
    try:
        for attempt in range(ATTEMPTS):
            graded = bundle.grade(tmp_path / f"try-{attempt}", {bundle.OWNED: bundle.honest_tensor()})
            if started[-1] == pid:
                break
        else:
            pytest.skip(f"no grader got pid {pid} in {ATTEMPTS} attempts (a busy machine forks in between)")
        assert graded.score > 0 and graded.leftovers == [], graded.leftovers
        assert not stale.exists()
    finally:
        shutil.rmtree(stale, ignore_errors=True)
