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


@pytest.fixture
def ctrl_c_after_first_result():
    """A function that sends SIGINT to a grade-batch process once it has stored its first result,
    then checks the stop: exit 130, a line saying how to resume, no traceback."""

    def interrupt(process: subprocess.Popen, results: Path) -> None:
        deadline = time.monotonic() + 300
        while not list(results.glob("*/results.json")):
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 130, stdout + stderr
        assert "Traceback" not in stdout + stderr and "KeyboardInterrupt" not in stdout + stderr
        assert "run the same command again" in stdout

    return interrupt
