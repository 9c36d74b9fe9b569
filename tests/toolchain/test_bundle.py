"""The Gradescope bundle: zip layout, executable scripts, pinned requirements, what the tree holds."""

import ast
import json
import stat
import zipfile
from pathlib import Path

import pytest

from coursetools.release.bundle import build_bundles
from coursetools.release.render import render_file

RUNTIME = {"__init__.py", "__main__.py", "feedback.py", "fixtures.py", "intake.py", "integrity.py", "isolation.py",
           "otter_bridge.py", "otter_plugin.py", "plugin.py", "results.py", "run.py", "sandbox.py", "temp_folders.py",
           "testkit.py",
           "remote/__init__.py", "remote/codec.py", "remote/connection.py", "remote/errors.py", "remote/launch.py",
           "remote/proxy.py", "remote/pytest_plugin.py", "remote/server.py", "remote/wire.py"}
GRADESCOPE_PYTHON = (3, 10)
"""Gradescope's Ubuntu 22.04 base image runs python3 3.10 (shared/reference/autograders.md 1.3)."""


@pytest.fixture(scope="module")
def names(released_01) -> set[str]:
    with zipfile.ZipFile(released_01["gradescope"]) as zf:
        return set(zf.namelist())


def test_setup_and_run_autograder_sit_at_the_zip_root_and_are_executable(released_01):
    with zipfile.ZipFile(released_01["gradescope"]) as zf:
        for script in ("setup.sh", "run_autograder"):
            mode = zf.getinfo(script).external_attr >> 16
            assert stat.S_ISREG(mode) and mode & 0o111 == 0o111, f"{script} is not executable in the zip"
            assert zf.read(script).startswith(b"#!/usr/bin/env bash")


def test_requirements_pin_exactly_the_grader_stack(released_01):
    with zipfile.ZipFile(released_01["gradescope"]) as zf:
        lines = [line for line in zf.read("requirements.txt").decode().splitlines() if line and not line.startswith("#")]
    assert sorted(line.split("==")[0] for line in lines) == ["msgpack", "numpy", "pytest", "pytest-json-report", "pytest-timeout"]
    assert all("==" in line for line in lines)


def test_bundle_ships_the_runtime_tests_conftest_and_reference_copy(names):
    assert {f"tinytorch_grader/{name}" for name in RUNTIME} <= names
    assert {"grader.json", "tree/conftest.py", "tree/pytest.ini", "reference_copy/tinytorch/core/tensor.py"} <= names
    assert any(n.startswith("tree/tests/01_tensor/test_") for n in names)
    assert any(n.startswith("tree/hidden_tests/01_tensor/test_") for n in names)
    assert not any("__pycache__" in n for n in names)


def test_tree_holds_no_code_of_the_graded_module(names):
    assert "tree/tinytorch/core/tensor.py" not in names
    assert "tree/tinytorch/__init__.py" in names


def test_grader_json_lists_expected_tests_for_every_group_in_manifest_order(released_01, course):
    config = json.loads((released_01["gradescope_dir"] / "grader.json").read_text())
    groups = course.module("01").groups
    assert [g["name"] for g in config["groups"]] == [g.name for g in groups]
    for group in groups:
        expected = config["expected"][group.name]
        assert expected and all(nodeid.startswith(group.path + "::") for nodeid in expected)


def test_reference_copy_is_solution_rendered(released_01):
    text = (released_01["gradescope_dir"] / "reference_copy" / "tinytorch" / "core" / "tensor.py").read_text()
    assert "#%" not in text and "NotImplementedError(\"Module 01" not in text


def test_later_module_tree_has_earlier_modules_solved_and_its_own_missing(course, tmp_path):
    folder = build_bundles(course, course.module("02"), tmp_path)["gradescope_dir"]
    tensor = (folder / "tree" / "tinytorch" / "core" / "tensor.py").read_text()
    assert tensor == render_file(course, course.module("01"), "tinytorch/core/tensor.py", "solution")
    assert not (folder / "tree" / "tinytorch" / "core" / "activations.py").exists()


def test_grader_runtime_uses_no_syntax_newer_than_gradescopes_python():
    runtime = Path(__file__).resolve().parents[2] / "graders" / "tinytorch_grader"
    assert {path.relative_to(runtime).as_posix() for path in runtime.rglob("*.py")} == RUNTIME
    for path in sorted(runtime.rglob("*.py")):
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=GRADESCOPE_PYTHON)
