"""Module 19: predictions, quality, latency percentiles and throughput of a model on an event."""

import numpy as np

from tinytorch.bench import EVENTS, EventData, predict, quality, single_query_latency, throughput
from tinytorch.core.layers import Linear
from tinytorch.core.transformer import GPT

R = np.random.default_rng(0)


def _classifier_data(n=40):
    x = R.standard_normal((n, 6)).astype(np.float32)
    return EventData(x, (x[:, 0] > 0).astype(np.int64))


def test_predict_gives_one_class_per_sample_in_any_batch_size():
    model = Linear(6, 3, rng=np.random.default_rng(1))
    data = _classifier_data(10)
    expected = (data.inputs @ model.weight.data + model.bias.data).argmax(-1)
    for batch_size in (1, 3, 10, 64):
        np.testing.assert_array_equal(predict(model, data.inputs, batch_size), expected)


def test_predict_gives_next_token_ids_for_a_language_model():
    model = GPT(vocab_size=9, embed_dim=8, num_layers=1, num_heads=2, max_seq_len=5, rng=np.random.default_rng(2))
    windows = R.integers(0, 9, (4, 5))
    out = predict(model, windows, 3)
    assert out.shape == (4, 5)
    np.testing.assert_array_equal(out, model(windows).data.argmax(-1))


def test_quality_is_the_fraction_correct():
    model = Linear(6, 2, rng=np.random.default_rng(1))
    weight = np.zeros((6, 2), dtype=np.float32)
    weight[0] = [-1.0, 1.0]  # predicts class 1 exactly when x0 > 0
    model.weight.data = weight
    model.bias.data = np.zeros(2, dtype=np.float32)
    data = _classifier_data()
    assert quality(model, EVENTS["mlp_sprint"], data) == 1.0
    targets = np.array(data.targets)
    targets[:10] = 1 - targets[:10]
    assert quality(model, EVENTS["mlp_sprint"], EventData(data.inputs, targets)) == 0.75


def test_latency_percentiles_are_ordered():
    latency = single_query_latency(Linear(6, 3, rng=R), EVENTS["mlp_sprint"], _classifier_data())
    assert set(latency) == {"mean", "p50", "p90", "p99"}
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"]


def test_throughput_counts_samples_per_second():
    value = throughput(Linear(6, 3, rng=R), EVENTS["mlp_sprint"], _classifier_data(500))
    assert value > 1000  # a 6x3 matmul: far faster than a thousand samples a second
