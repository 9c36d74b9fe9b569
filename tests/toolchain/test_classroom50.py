"""The Classroom 50 entry: visible tests only, and its autograder.py writes a classroom50/result/v1 result.json."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from coursetools.release.classroom50 import build_classroom50_entry
from coursetools.release.leaks import assert_no_leaks

pytestmark = pytest.mark.timeout(600)  # a release, a few gradings of module 01


@pytest.fixture(scope="module")
def entry(course, released_01, tmp_path_factory):
    return build_classroom50_entry(course, course.module("01"), released_01["gradescope_dir"],
                                   tmp_path_factory.mktemp("dist"))


def run_autograder(entry, repo, tmp_path):
    checkout = tmp_path / "checkout"
    shutil.copytree(repo, checkout)
    env = {**os.environ, "CLASSROOM": "cs101", "ASSIGNMENT": "tensor", "SUBMISSION_TAG": "submit/x",
           "COMMIT_URL": "https://example.invalid/c", "RELEASE_URL": "https://example.invalid/r"}
    done = subprocess.run([sys.executable, str(entry / "autograder.py")], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads((checkout / "result.json").read_text())


def test_the_entry_holds_no_hidden_test_and_no_reference(course, entry):
    module = course.module("01")
    assert not (entry / "bundle" / "reference_copy").exists()
    for group in module.groups:
        assert (entry / "bundle" / "tree" / group.path).exists() == (not group.hidden)
    config = json.loads((entry / "bundle" / "grader.json").read_text())
    assert [g["name"] for g in config["groups"]] == [g.name for g in module.groups if not g.hidden]
    assert_no_leaks(entry, course, module)
    assert json.loads((entry / "runtime.json").read_text()) == {"python": course.python}


def test_solution_gets_every_visible_point_and_skeleton_none(course, entry, released_01, tmp_path):
    visible = sum(g.points for g in course.module("01").groups if not g.hidden)
    full = run_autograder(entry, released_01["solution"], tmp_path / "solution")
    zero = run_autograder(entry, released_01["skeleton"], tmp_path / "skeleton")
    assert full["schema"] == "classroom50/result/v1" and full["classroom"] == "cs101"
    assert full["score"] == full["max-score"] == visible and all(t["passed"] for t in full["tests"])
    assert zero["score"] == 0 and zero["max-score"] == visible and not any(t["passed"] for t in zero["tests"])
    assert set(full["tests"][0]) >= {"test-name", "passed", "score", "max-score"}
    assert full["datetime"] == "2020-01-01T00:00:00Z", "the graded commit's date, fixed by the release"
