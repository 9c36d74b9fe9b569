"""The results model: Gradescope's results.json schema, the summary entry, visibility."""

import json

import pytest

from tinytorch_grader.results import GradeResult, TestOutcome

TEST_KEYS = {"name", "number", "score", "max_score", "status", "visibility", "output", "output_format",
             "tags", "extra_data"}


def _result(**overrides) -> GradeResult:
    tests = [
        TestOutcome("Basics › test_a", "1.1", 2.0, 2.0, "visible"),
        TestOutcome("Basics › test_b", "1.2", 0.0, 2.0, "visible", output="**Failed**: 1 != 2"),
        TestOutcome("Edge › test_c", "2.1", 3.0, 3.0, "after_due_date"),
        TestOutcome("Edge › test_d", "2.2", 0.0, 3.0, "after_published"),
    ]
    return GradeResult(tests=tests, execution_time=1.23456, output="Module 01", **overrides)


def test_top_level_keys_follow_gradescopes_schema():
    data = _result().to_gradescope_dict()
    assert data["score"] == 5.0 and isinstance(data["execution_time"], float)
    assert data["output"] == "Module 01" and data["extra_data"]["max_score"] == 10.0
    assert "leaderboard" not in data
    assert json.loads(json.dumps(data)) == data


def test_every_test_entry_has_the_schema_keys_and_markdown_output():
    for test in _result().to_gradescope_dict()["tests"]:
        assert set(test) == TEST_KEYS
        assert test["status"] in ("passed", "failed") and test["output_format"] == "md"


def test_status_follows_the_score():
    statuses = [t["status"] for t in _result().to_gradescope_dict()["tests"][1:]]
    assert statuses == ["passed", "failed", "passed", "failed"]


def test_tests_keep_their_visibility():
    visibilities = [t["visibility"] for t in _result().to_gradescope_dict()["tests"][1:]]
    assert visibilities == ["visible", "visible", "after_due_date", "after_published"]


def test_summary_is_visible_pointless_and_states_visible_and_hidden_points():
    summary = _result().to_gradescope_dict()["tests"][0]
    assert (summary["name"], summary["visibility"], summary["score"], summary["max_score"]) == ("Summary", "visible", 0, 0)
    assert summary["status"] == "failed"
    assert "Visible tests: 2 / 4 points (1 of 2 tests passed)." in summary["output"]
    assert "1 test worth 3 points, graded now, shown after the due date" in summary["output"]
    assert "1 test worth 3 points, graded now, shown when grades are published" in summary["output"]


def test_summary_passes_when_every_visible_test_passes():
    result = GradeResult(tests=[TestOutcome("a", "1.1", 2.0, 2.0, "visible"), TestOutcome("b", "2.1", 0.0, 3.0, "hidden")])
    summary = result.to_gradescope_dict()["tests"][0]
    assert summary["status"] == "passed" and "Hidden tests" in summary["output"]


def test_leaderboard_is_written_when_present():
    entry = {"name": "conv2d_time_ratio", "value": 1.3, "order": "asc"}
    assert _result(leaderboard=[entry]).to_gradescope_dict()["leaderboard"] == [entry]


def test_split_points_are_rounded_but_sum_to_the_group():
    thirds = [TestOutcome(f"t{k}", f"1.{k}", 10 / 3, 10 / 3, "visible") for k in (1, 2, 3)]
    data = GradeResult(tests=thirds).to_gradescope_dict()
    assert data["score"] == pytest.approx(10) and data["tests"][1]["max_score"] == pytest.approx(3.3333)
