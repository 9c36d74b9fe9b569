"""Module 20: measuring a stage and running the pipeline on a small trained MLP."""

import numpy as np
import pytest

from tinytorch.bench import EventData, train_baseline
from tinytorch.capstone import optimize, snapshot
from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.perf.quantization import QuantizedLinear


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((4, 16)).astype(np.float32) * 2
    labels = rng.integers(0, 4, 900)
    inputs = centers[labels] + rng.standard_normal((900, 16)).astype(np.float32)
    model = Sequential(Linear(16, 64, rng=rng), ReLU(), Linear(64, 64, rng=rng), ReLU(), Linear(64, 4, rng=rng))
    train_baseline("mlp_sprint", model, EventData(inputs[:700], labels[:700]), steps=150)
    return model, inputs, labels


def test_snapshot_measures_the_model(blobs):
    model, inputs, labels = blobs
    shot = snapshot("baseline", model, inputs[700:], labels[700:])
    assert shot.stage == "baseline" and shot.accuracy > 0.9
    assert shot.model_bytes == 4 * shot.parameters == 4 * (16 * 64 + 64 + 64 * 64 + 64 + 64 * 4 + 4)
    assert shot.sparsity == 0.0 and shot.latency_p50_ms > 0


def test_quantizing_alone_gives_two_stages_and_leaves_the_model_alone(blobs):
    model, inputs, labels = blobs
    before = model.layers[0].weight.data.copy()
    quantized, report = optimize(model, (inputs[700:], labels[700:]), calibration=inputs[:100])
    assert [s.stage for s in report.stages] == ["baseline", "int8"]
    assert isinstance(quantized.layers[0], QuantizedLinear)
    np.testing.assert_array_equal(model.layers[0].weight.data, before)
    assert report.size_ratio() > 3.0 and report.accuracy_drop() <= 0.02
    assert "Linear" in report.profile_table


def test_channel_pruning_adds_a_stage_and_calls_finetune(blobs):
    model, inputs, labels = blobs
    tuned = []
    _, report = optimize(model, (inputs[700:], labels[700:]), calibration=inputs[:100], channel_amount=0.5,
                         finetune=tuned.append)
    assert [s.stage for s in report.stages] == ["baseline", "channels pruned", "int8"]
    assert len(tuned) == 1 and tuned[0].layers[0].weight.shape == (16, 32)
    assert report.stages[1].parameters == 16 * 32 + 32 + 32 * 32 + 32 + 32 * 4 + 4
