"""Module 19: the submission JSON, its schema and a whole event run on small data."""

import copy
import json

import numpy as np
import pytest

from tinytorch.bench import EventData, run_event, validate_submission, write_submission
from tinytorch.core.layers import Linear

R = np.random.default_rng(0)


def _small_run(floor_met=True):
    x = R.standard_normal((300, 784)).astype(np.float32)
    model = Linear(784, 10, rng=np.random.default_rng(1))
    labels = model(x).data.argmax(-1) if floor_met else (model(x).data.argmax(-1) + 1) % 10
    return run_event("mlp_sprint", model, data=EventData(x, labels), model_name="linear")


def test_a_run_gives_a_valid_submission():
    submission = _small_run()
    assert validate_submission(submission) == []
    assert submission["event"] == "mlp_sprint" and submission["model"]["name"] == "linear"
    assert submission["model"]["parameters"] == 784 * 10 + 10
    assert submission["model"]["bytes"] == submission["memory"]["model_bytes"] == (784 * 10 + 10) * 4
    assert submission["quality"] == {"metric": "accuracy", "value": 1.0, "floor": 0.95}
    assert submission["valid"] is True
    assert submission["memory"]["peak_inference_bytes"] > 0


def test_a_model_below_the_floor_is_not_valid():
    submission = _small_run(floor_met=False)
    assert submission["quality"]["value"] == 0.0 and submission["valid"] is False


def test_missing_and_mistyped_fields_are_reported_with_their_path():
    submission = copy.deepcopy(_small_run())
    del submission["throughput"]
    submission["latency_ms"]["p99"] = "fast"
    errors = validate_submission(submission)
    assert any("throughput" in e for e in errors)
    assert any("$.latency_ms.p99" in e for e in errors)


def test_out_of_range_and_unknown_values_are_reported():
    submission = copy.deepcopy(_small_run())
    submission["quality"]["value"] = 1.5
    submission["event"] = "marathon"
    submission["memory"]["model_bytes"] = -1
    errors = validate_submission(submission)
    assert len(errors) == 3


def test_write_submission_refuses_an_invalid_one(tmp_path):
    good = _small_run()
    path = write_submission(good, tmp_path / "sub.json")
    assert json.loads(path.read_text())["event"] == "mlp_sprint"
    bad = copy.deepcopy(good)
    del bad["system"]
    with pytest.raises(ValueError, match="system"):
        write_submission(bad, tmp_path / "bad.json")
    assert not (tmp_path / "bad.json").exists()


def test_unknown_event_is_refused():
    assert validate_submission({"event": "sprint"}) != []
    with pytest.raises(ValueError, match="mlp_sprint"):
        run_event("sprint", Linear(2, 2), data=EventData(np.zeros((2, 2), np.float32), np.zeros(2, np.int64)))
