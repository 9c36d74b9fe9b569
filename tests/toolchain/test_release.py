"""make release-module: skeleton repo, solution repo and Gradescope bundle."""

import ast
import dataclasses
import os
import stat
import subprocess
import sys
import zipfile

import pytest

from coursetools.release.leaks import LeakError, assert_no_leaks
from coursetools.release.pipeline import NotReleasedError, check_released


def test_release_writes_the_three_outputs(released_01):
    assert (released_01["skeleton"] / "README.md").is_file()
    assert (released_01["solution"] / "tinytorch" / "core" / "tensor.py").is_file()
    assert released_01["gradescope"].name == "gradescope.zip"


def test_skeleton_is_a_git_repository_with_one_commit(released_01):
    log = subprocess.run(["git", "log", "--oneline"], cwd=released_01["skeleton"], capture_output=True, text=True, check=True)
    assert len(log.stdout.strip().splitlines()) == 1


def test_skeleton_has_no_hidden_tests_and_no_solution_text(course, released_01):
    skeleton = released_01["skeleton"]
    assert not (skeleton / "hidden_tests").exists()
    assert_no_leaks(skeleton, course, course.module("01"))


def test_leak_check_catches_a_solution_line(course, released_01, tmp_path):
    leaky = tmp_path / "leaky"
    leaky.mkdir()
    (leaky / "notes.py").write_text('        return Tensor._make(self.data + other.data, "AddBackward", self, other)\n')
    with pytest.raises(LeakError):
        assert_no_leaks(leaky, course, course.module("01"))


def test_skeleton_parses_and_imports(released_01):
    source = (released_01["skeleton"] / "tinytorch" / "core" / "tensor.py").read_text()
    ast.parse(source)
    env = {**os.environ, "PYTHONPATH": str(released_01["skeleton"])}
    subprocess.run([sys.executable, "-c", "import tinytorch.core.tensor"], env=env, check=True)


def test_skeleton_tests_collect_cleanly_and_fail(released_01):
    env = {**os.environ, "PYTHONPATH": str(released_01["skeleton"])}
    run = ["-m", "pytest", "-q", "-p", "no:cacheprovider"]
    collected = subprocess.run([sys.executable, *run, "--collect-only"], cwd=released_01["skeleton"], env=env,
                               capture_output=True, text=True)
    assert collected.returncode == 0, collected.stdout[-2000:]
    result = subprocess.run([sys.executable, *run], cwd=released_01["skeleton"], env=env, capture_output=True, text=True)
    assert result.returncode == 1, result.stdout[-2000:]


def test_solution_repo_passes_its_tests(released_01):
    env = {**os.environ, "PYTHONPATH": str(released_01["solution"])}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                            cwd=released_01["solution"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:]


def test_gradescope_zip_has_executable_scripts_at_its_root(released_01):
    with zipfile.ZipFile(released_01["gradescope"]) as zf:
        modes = {info.filename: info.external_attr >> 16 for info in zf.infolist()}
    for script in ("setup.sh", "run_autograder"):
        assert script in modes and modes[script] & stat.S_IXUSR


def test_bundle_tree_holds_no_code_of_the_graded_module(released_01):
    assert not (released_01["gradescope_dir"] / "tree" / "tinytorch" / "core" / "tensor.py").exists()


def test_planned_modules_are_refused_with_a_clear_message(course):
    planned = dataclasses.replace(course.modules[-1], status="planned")  # every module may be released by now
    with pytest.raises(NotReleasedError, match=f"module {planned.number}.*planned"):
        check_released(course, planned)


def git_log(repo):
    done = subprocess.run(["git", "log", "--format=%H %P"], cwd=repo, capture_output=True, text=True, check=True)
    return [line.split() for line in done.stdout.strip().splitlines()]


def test_rereleasing_unchanged_content_gives_the_same_commit(course, tmp_path):
    """Two dists built back to back (the shared checkout may change between a session fixture and now)."""
    from coursetools.release.pipeline import release_repository

    module = course.module("01")
    first = git_log(release_repository(course, module, tmp_path / "one" / module.dirname))
    again = release_repository(course, module, tmp_path / "two" / module.dirname)  # another dist, same content
    assert git_log(again) == first and len(first) == 1
    on_top = release_repository(course, module, again)  # the same dist again: nothing to commit
    assert git_log(on_top) == first
    clean = subprocess.run(["git", "status", "--porcelain"], cwd=on_top, capture_output=True, text=True, check=True)
    assert clean.stdout == ""


def test_changed_content_is_a_new_commit_on_top_of_the_previous_release(course, tmp_path):
    from coursetools.release.pipeline import release_repository

    module = course.module("01")
    dest = tmp_path / "skeletons" / module.dirname
    release_repository(course, module, dest)
    (previous,) = git_log(dest)
    revised = dataclasses.replace(module, title=module.title + " (revised)")
    release_repository(course, revised, dest)
    log = git_log(dest)
    assert len(log) == 2 and log[0][1] == previous[0], "the new release must sit on the previous commit"
    assert "(revised)" in (dest / "README.md").read_text()


def test_the_solutions_repository_says_it_is_solutions(released_01):
    assert "SOLUTIONS repository" in (released_01["solution"] / "README.md").read_text().splitlines()[0]
    assert "SOLUTIONS" not in (released_01["skeleton"] / "README.md").read_text()


def test_bundles_are_byte_reproducible(course, tmp_path):
    from coursetools.release.bundle import build_bundles

    first = build_bundles(course, course.module("01"), tmp_path / "one")["gradescope"]
    again = build_bundles(course, course.module("01"), tmp_path / "two")["gradescope"]
    assert again.read_bytes() == first.read_bytes()
