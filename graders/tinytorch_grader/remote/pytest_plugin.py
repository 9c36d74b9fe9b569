"""``-p tinytorch_grader.remote.pytest_plugin``: grade mode's test process.

Inert unless the grader set ``TINYTORCH_REMOTE_STUDENT``. Then ``import tinytorch...`` in tests and
conftest gives proxies of the student's process (started on first use, started afresh after a
crash), ``reference_module(name)`` gives proxies of a second process running the reference
(``TINYTORCH_REMOTE_REFERENCE``, timed groups only), and ``tmp_path`` is a folder both the test
and the student's process can use. Every server is killed when the session ends.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tinytorch_grader.remote import launch
from tinytorch_grader.remote.connection import Connection

_connections: dict[str, Connection] = {}


def active() -> bool:
    return "student" in _connections


def student() -> Connection:
    return _connections["student"]


def reference() -> Connection:
    if "reference" not in _connections:
        spec = os.environ.get(launch.REFERENCE_ENV)
        if not spec:
            raise LookupError("this group has no reference copy (only timed groups do)")
        _connections["reference"] = Connection("reference", launch.from_spec(spec))
    return _connections["reference"]


def pytest_configure(config: pytest.Config) -> None:
    spec = os.environ.get(launch.STUDENT_ENV)
    if not spec:
        return
    from tinytorch_grader.remote import proxy

    os.umask(0o022)  # what the tests write (tmp_path, the servers' mount points) the student's uid may read
    student = Connection("student", launch.from_spec(spec), timeout=float(os.environ.get("TINYTORCH_REMOTE_TIMEOUT", "600")))
    _connections["student"] = student
    proxy.install(student)
    student.start()  # its Python and NumPy start while pytest collects
    if os.environ.get(launch.REFERENCE_ENV):
        reference().start()
    config.pluginmanager.register(SharedTmpPath(launch.uid_of(spec)), "tinytorch-shared-tmp-path")


def student_frames(trace: str, limit: int = 3000) -> str:
    """The student's traceback without the grader's own frames (the server's request loop)."""
    lines, keep = trace.splitlines(), []
    skipping = False
    for line in lines:
        if line.startswith("  File "):
            skipping = "tinytorch_grader" in line
        if not skipping:
            keep.append(line)
    return "\n".join(keep)[-limit:]


def pytest_unconfigure(config: pytest.Config) -> None:
    for conn in list(_connections.values()):
        conn.close()
    _connections.clear()


class SharedTmpPath:
    """``tmp_path`` the student's process can read and write too (it runs as another user), and the
    student's own traceback added to a failure its code raised."""

    def __init__(self, uid: int | None) -> None:
        self.uid = uid

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        trace = getattr(call.excinfo.value, "student_traceback", "") if call.excinfo else ""
        if trace and hasattr(report.longrepr, "addsection"):
            report.longrepr.addsection("Where your code raised it", student_frames(trace))

    @pytest.fixture
    def tmp_path(self, request, tmp_path_factory) -> Path:
        name = "".join(c if c.isalnum() else "_" for c in request.node.name)[:30]
        path = tmp_path_factory.mktemp(name, numbered=True)
        if self.uid is not None:
            for folder in [path, *path.parents]:
                if folder == Path(folder.anchor) or str(folder) in ("/tmp", "/var/tmp"):
                    break
                folder.chmod(folder.stat().st_mode | 0o711)
            os.chown(path, self.uid, self.uid)
        return path
