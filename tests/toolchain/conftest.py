"""Fixtures for toolchain tests: one release of module 01 per session, shared by the tests."""

import signal
import subprocess
import time
from pathlib import Path

import pytest

from coursetools.manifest import load_course
from coursetools.release.pipeline import release_module

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def course():
    return load_course(ROOT)


@pytest.fixture(scope="session")
def released_01(course, tmp_path_factory):
    """dist/ with module 01 released: {'skeleton', 'solution', 'gradescope', 'gradescope_dir'} paths."""
    dist = tmp_path_factory.mktemp("dist")
    return release_module(course, course.module("01"), dist)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def ctrl_c_after_first_result():
    """A function that starts a grade-batch command, sends it SIGINT once it has stored its first
    result, then checks the stop: exit 130, a line saying how to resume, no traceback.

    The command starts with SIGINT at its default action: a shell starts background jobs (``make
    test &``, nohup, some CI runners) with SIGINT ignored, the children inherit that, and Python
    then never raises KeyboardInterrupt, so the batch would rightly run to the end.
    """

    def interrupt(command: list[str], results: Path, cwd: Path | None = None, env: dict | None = None,
                  also=lambda: True) -> None:
        """``also``: a further condition to wait for before the SIGINT (a grading in the middle of a group)."""
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   preexec_fn=_default_sigint)
        deadline = time.monotonic() + 300
        while not (list(results.glob("*/results.json")) and also()):
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 130, stdout + stderr
        assert "Traceback" not in stdout + stderr and "KeyboardInterrupt" not in stdout + stderr
        assert "run the same command again" in stdout

    return interrupt
