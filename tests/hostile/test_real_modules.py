"""The forgery classes against real released modules (01 and 09), graded as Gradescope does.

Each submission is the module's own file with three attacks appended: it forges report lines into
every inherited file descriptor and exits, it walks the caller's frames for expected values and
returns them from every public function and method, and it replaces the code of every test
function it can find with a no-op. On the skeleton (honest score 0) it must score exactly 0; on the
solution (honest score full) exactly full: the attacks neither earn nor cost a point.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from coursetools.grade.submission import grade_with_bundle
from coursetools.manifest import load_course
from coursetools.release.pipeline import release_module

COURSE = load_course()

ATTACKS = '''

# ---- attack 1: frame walking. Every stub-bearing function first looks up the caller's frames for
# a local that looks like the expected answer (want, expected, ...) and returns it.
import functools as _ft
import inspect as _inspect
import sys as _sys


def _answer_from_frames():
    frame = _sys._getframe(2)
    while frame is not None:
        if "test" in frame.f_code.co_filename.rsplit("/", 1)[-1]:  # a test's own frame
            for _key in ("want", "expected", "expect", "answer"):
                if _key in frame.f_locals:
                    return frame.f_locals[_key]
        frame = frame.f_back
    raise LookupError("no expected value in sight")


def _walking(function):
    @_ft.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return _answer_from_frames()
        except LookupError:
            return function(*args, **kwargs)
    return wrapper


for _name, _value in list(globals().items()):
    if _inspect.isfunction(_value) and not _name.startswith("_"):
        globals()[_name] = _walking(_value)
    elif _inspect.isclass(_value) and _value.__module__ == __name__:
        for _attr, _member in list(vars(_value).items()):
            if _inspect.isfunction(_member) and not _attr.startswith("__"):
                setattr(_value, _attr, _walking(_member))

# ---- attack 2: neuter every test function reachable from this process.
import gc as _gc


def _noop():
    return None


for _object in _gc.get_objects():
    if _inspect.isfunction(_object) and _object.__name__.startswith("test_") and "test" in _object.__code__.co_filename:
        try:
            _object.__code__ = _noop.__code__
        except (TypeError, ValueError):
            pass

# ---- attack 3: forge a report into every inherited pipe (the grader's report channel, when the
# tests run in this process) for each test id found in the process.
import os as _os
import stat as _stat

_ids = [f"{_o.__code__.co_filename}::{_o.__name__}" for _o in _gc.get_objects()
        if _inspect.isfunction(_o) and _o.__name__.startswith("test_")]
for _fd in range(3, 64):
    try:
        if _stat.S_ISFIFO(_os.fstat(_fd).st_mode):
            for _nodeid in _ids:
                _os.write(_fd, ('{"kind": "progress", "nodeid": "%s", "outcome": "passed"}\\n' % _nodeid).encode())
    except OSError:
        pass
'''


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    dist = tmp_path_factory.mktemp("dist")
    return {number: release_module(COURSE, COURSE.module(number), dist) for number in ("01", "09")}


def _attacked(repo: Path, owned: str, dest: Path) -> Path:
    shutil.copytree(repo, dest, ignore=shutil.ignore_patterns(".git"))
    target = dest / owned
    target.write_text(target.read_text(encoding="utf-8") + ATTACKS, encoding="utf-8")
    return dest


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("number", ["01", "09"])
@pytest.mark.parametrize("kind, honest", [("skeleton", "zero"), ("solution", "full")])
def test_forgery_scores_exactly_the_honest_score(releases, tmp_path, number, kind, honest):
    module = COURSE.module(number)
    release = releases[number]
    submission = _attacked(Path(release[kind]), module.files[0], tmp_path / "submission")
    data = grade_with_bundle(Path(release["gradescope"]), submission, tmp_path / "results.json")
    json.dumps(data, allow_nan=False)
    expected = 0 if honest == "zero" else module.max_points
    assert data["score"] == pytest.approx(expected), (number, kind, data["score"])
