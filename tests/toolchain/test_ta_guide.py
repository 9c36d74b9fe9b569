"""The TA guide (docs/guides/ta.md) is generated, current, and its symptoms come from real grader runs.

The up-to-date check regenerates the guide from the committed patches, symptoms and validation
reports (a few seconds). One real grading run, of one mistake of module 16 (the fastest module
to grade), proves that the recorded symptoms are what the grader says today.
"""

from pathlib import Path

import pytest

from coursetools.manifest import load_course
from coursetools.report import ta_guide
from coursetools.validate.mistakes import load_catalogue

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def course():
    return load_course(ROOT)


def test_the_committed_guide_is_what_its_sources_give(course):
    expected = ta_guide.render_guide(course)
    committed = (ROOT / ta_guide.GUIDE).read_text(encoding="utf-8")
    assert committed == expected, "docs/guides/ta.md is out of date: run `python -m coursetools ta-guide`"


def test_recorded_symptoms_match_the_patches_and_the_validation_reports(course):
    problems = ta_guide.stale_symptoms(course)
    assert not problems, "\n".join(problems)


def test_every_catalogued_mistake_of_every_released_module_is_in_the_guide(course):
    guide = (ROOT / ta_guide.GUIDE).read_text(encoding="utf-8")
    for module in course.released():
        section = guide.split(f"## Module {module.number}: {module.title}\n")[1].split("\n## Module ")[0]
        for mistake in load_catalogue(course, module):
            assert f"### `{mistake.name}`" in section, f"{module.dirname}/{mistake.name} missing from the guide"


def test_feedback_headlines_are_read_as_the_grader_writes_them():
    from tinytorch_grader.feedback import failure_message

    test = {"call": {"outcome": "failed",
                     "crash": {"message": "AssertionError: \nNot equal to tolerance rtol=1e-07"},
                     "longrepr": "def test_x():\n>   assert_allclose(a, b)\nE   AssertionError: \n"
                                 "E   Not equal to tolerance rtol=1e-07\nE   Mismatched elements: 1 / 4 (25%)\n"
                                 "E    +  where x = <Tensor object at 0x7f00>"},
            "metadata": {"doc": "Adds two tensors element-wise."}}
    output = failure_message(test)
    assert ta_guide.headline(output) == "AssertionError: Not equal to tolerance rtol=1e-07"
    assert "Mismatched elements: 1 / 4 (25%)" in ta_guide.explanation(output)
    assert "0x7f00" not in ta_guide.explanation(output)
    assert ta_guide.test_doc(output) == "Adds two tensors element-wise."


def test_a_hint_paragraph_of_the_description_becomes_the_tas_hint():
    did, hint = ta_guide.split_hint("sum ignores keepdims: (N, 1) becomes (N,). Hint: print out.shape for a 2x3 input.")
    assert did == "sum ignores keepdims: (N, 1) becomes (N,)."
    assert hint == "print out.shape for a 2x3 input."
    assert ta_guide.split_hint("No hint here.") == ("No hint here.", "")


def test_changed_lines_of_a_patch_name_its_region(course):
    module = course.module("01")
    mistake = next(m for m in load_catalogue(course, module) if m.name == "floor_division")
    assert [r.name for r in ta_guide.regions_touched(course, module, mistake)] == ["Tensor.__truediv__"]


@pytest.mark.slow
def test_a_real_grading_run_gives_the_recorded_symptoms(course, tmp_path):
    module = course.module("16")
    recorded = ta_guide.load_symptoms(course, module)
    chosen = sorted(recorded)[:1]
    path = ta_guide.grade_symptoms(course, module, only=chosen, path=tmp_path / "symptoms.json")
    fresh = ta_guide.load_symptoms(course, module, path=path)
    assert sorted(fresh) == chosen
    for name in chosen:
        assert [t["name"] for t in fresh[name]["failed"]] == [t["name"] for t in recorded[name]["failed"]]
        assert [t["message"] for t in fresh[name]["failed"]] == [t["message"] for t in recorded[name]["failed"]]
        assert fresh[name]["points_lost"] == pytest.approx(recorded[name]["points_lost"])
