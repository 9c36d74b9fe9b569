"""The course manifest: loading, lookup, validation."""

import shutil
from pathlib import Path

import pytest

from coursetools.manifest import ManifestError, load_course

ROOT = Path(__file__).resolve().parents[2]


def test_manifest_declares_twenty_modules_in_order():
    course = load_course(ROOT)
    assert [m.number for m in course.modules] == [f"{n:02d}" for n in range(1, 21)]


def test_module_lookup_accepts_several_spellings():
    course = load_course(ROOT)
    assert course.module("1") is course.module("01") is course.module(1)


def test_unknown_module_names_the_valid_ones():
    with pytest.raises(ManifestError, match="01, 02"):
        load_course(ROOT).module("42")


def test_group_paths_follow_visibility():
    course = load_course(ROOT)
    for group in course.module("01").groups:
        assert group.path.startswith("hidden_tests/" if group.hidden else "tests/")


def test_released_modules_have_every_test_file():
    for module in load_course(ROOT).released():
        for group in module.groups:
            assert (ROOT / group.path).is_file(), group.path


def _broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    (tmp_path / "reference").mkdir()
    text = (ROOT / "reference" / "course.toml").read_text(encoding="utf-8")
    assert old in text
    (tmp_path / "reference" / "course.toml").write_text(text.replace(old, new, 1), encoding="utf-8")
    shutil.copytree(ROOT / "reference" / "tinytorch", tmp_path / "reference" / "tinytorch")
    shutil.copytree(ROOT / "tests", tmp_path / "tests")
    shutil.copytree(ROOT / "hidden_tests", tmp_path / "hidden_tests")
    return tmp_path


@pytest.mark.parametrize("old,new,problem", [
    ('visibility = "visible"', 'visibility = "sometimes"', "visibility"),
    ("points = 10", "points = 0", "points must be positive"),
    ('depends = ["01"]', 'depends = ["07"]', "depends on"),
    ('number = "02"', 'number = "01"', "used twice"),
])
def test_bad_manifests_are_refused_with_the_field_named(tmp_path, old, new, problem):
    with pytest.raises(ManifestError, match=problem):
        load_course(_broken_copy(tmp_path, old, new))


def test_json_slice_carries_groups_and_files():
    course = load_course(ROOT)
    data = course.to_json_slice(course.module("01"))
    assert data["module"]["files"] == ["tinytorch/core/tensor.py"]
    assert sum(g["points"] for g in data["groups"]) == course.module("01").max_points
