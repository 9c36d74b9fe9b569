"""results.json is strict JSON whatever numbers reach it: Gradescope rejects NaN and Infinity."""

import json
import math

import numpy as np
import pytest

from tinytorch_grader.results import GradeResult, TestOutcome, strict_json

NON_FINITE = [math.nan, math.inf, -math.inf, np.float64("nan"), np.float32("inf")]


def outcome(score=1.0, max_score=1.0, **extra) -> TestOutcome:
    return TestOutcome(name="Basics › test_add", number="1.1", score=score, max_score=max_score,
                       visibility="visible", **extra)


def render(result: GradeResult) -> dict:
    text = json.dumps(result.to_gradescope_dict(), allow_nan=False)
    return json.loads(text)


@pytest.mark.parametrize("bad", NON_FINITE, ids=repr)
def test_a_non_finite_test_score_counts_zero_with_a_message(bad):
    data = render(GradeResult(tests=[outcome(score=bad), outcome(score=2.0, max_score=2.0)]))
    broken = data["tests"][1]
    assert broken["score"] == 0 and broken["status"] == "failed"
    assert "not a number" in broken["output"]
    assert data["score"] == 2.0 and data["extra_data"]["max_score"] == 3.0


def test_a_non_finite_max_score_counts_zero_and_never_passes():
    data = render(GradeResult(tests=[outcome(score=math.nan, max_score=math.nan)]))
    assert data["tests"][1]["max_score"] == 0 and data["tests"][1]["status"] == "failed"
    assert data["extra_data"]["max_score"] == 0


@pytest.mark.parametrize("bad", NON_FINITE, ids=repr)
def test_a_non_finite_leaderboard_value_is_left_out_and_noted(bad):
    board = [{"name": "add_time_ratio", "value": bad, "order": "asc"},
             {"name": "accuracy", "value": 0.9, "order": "desc"}]
    data = render(GradeResult(tests=[outcome()], leaderboard=board))
    assert data["leaderboard"] == [{"name": "accuracy", "value": 0.9, "order": "desc"}]
    assert any("add_time_ratio" in note for note in data["extra_data"]["non_finite"])


def test_non_finite_numbers_in_extra_data_and_output_become_null_with_a_note():
    extra = {"metrics": {"ratio": math.nan, "ok": np.float32(1.5)}, "timings": (1.0, math.inf)}
    result = GradeResult(tests=[outcome(extra_data=extra)], extra_data={"isolation": {"seconds": -math.inf}},
                         execution_time=math.nan)
    data = render(result)
    test = data["tests"][1]
    assert test["extra_data"] == {"metrics": {"ratio": None, "ok": 1.5}, "timings": [1.0, None]}
    assert data["extra_data"]["isolation"] == {"seconds": None}
    assert data["execution_time"] == 0
    notes = data["extra_data"]["non_finite"]
    assert any("ratio" in note for note in notes) and any("seconds" in note for note in notes)


def test_a_finite_result_has_no_notes_and_keeps_its_numbers():
    data = render(GradeResult(tests=[outcome(score=0.5, extra_data={"seconds": 0.25})], execution_time=1.5))
    assert "non_finite" not in data["extra_data"]
    assert data["score"] == 0.5 and data["tests"][1]["extra_data"] == {"seconds": 0.25}


def test_strict_json_turns_foreign_values_into_json_types():
    value = {1: np.int64(3), "shape": (2, 3), "dtype": np.dtype("float32"), "flag": np.bool_(True),
             "array": np.array([1.0, np.nan])}
    cleaned = strict_json(value)
    assert json.loads(json.dumps(cleaned, allow_nan=False)) == {
        "1": 3, "shape": [2, 3], "dtype": "float32", "flag": True, "array": [1.0, None]}
