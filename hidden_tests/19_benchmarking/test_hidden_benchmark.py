"""Module 19, hidden: the measuring rules and the schema checker's corner cases."""

import time

import numpy as np

from tinytorch.bench import (EVENTS, SUBMISSION_SCHEMA, EventData, predict, run_event, single_query_latency,
                             validate_submission)
from tinytorch.core.layers import Dropout, Layer, Linear
from tinytorch.core.tensor import Tensor

R = np.random.default_rng(3)


class SlowFirstCalls(Layer):
    """A model whose first three calls take 50 ms each (think: lazy initialisation)."""

    def __init__(self):
        self.calls = 0
        self.linear = Linear(4, 2, rng=np.random.default_rng(0))

    def forward(self, x):
        self.calls += 1
        if self.calls <= 3:
            time.sleep(0.05)
        return self.linear(x)


class DropoutModel(Layer):
    def __init__(self):
        self.linear = Linear(4, 3, rng=np.random.default_rng(0))
        self.dropout = Dropout(0.9, rng=np.random.default_rng(1))

    def forward(self, x):
        return self.dropout(self.linear(x))


def test_latency_excludes_the_warm_up_calls():
    data = EventData(R.standard_normal((20, 4)).astype(np.float32), np.zeros(20, np.int64))
    latency = single_query_latency(SlowFirstCalls(), EVENTS["mlp_sprint"], data)
    assert latency["p99"] < 40, "the three slow warm-up calls were timed"


def test_latency_queries_are_single_samples():
    seen = []

    class Recorder(Linear):
        def forward(self, x):
            seen.append(x.shape[0])
            return super().forward(x)

    data = EventData(R.standard_normal((60, 4)).astype(np.float32), np.zeros(60, np.int64))
    single_query_latency(Recorder(4, 2, rng=R), EVENTS["mlp_sprint"], data)
    assert set(seen) == {1} and len(seen) == 3 + EVENTS["mlp_sprint"].latency_queries


def test_predictions_are_made_in_eval_mode_without_a_graph():
    model = DropoutModel()
    x = R.standard_normal((8, 4)).astype(np.float32)
    first, second = predict(model, x, 4), predict(model, x, 8)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, model.linear(Tensor(x)).data.argmax(-1))


def test_booleans_are_not_integers_and_numpy_numbers_are_numbers():
    x = R.standard_normal((40, 784)).astype(np.float32)
    model = Linear(784, 10, rng=R)
    submission = run_event("mlp_sprint", model, data=EventData(x, model(x).data.argmax(-1)))
    submission["throughput"]["batch_size"] = True
    submission["latency_ms"]["p50"] = np.float32(0.5)
    submission["model"]["parameters"] = np.int64(7850)
    errors = validate_submission(submission)
    assert len(errors) == 1 and "batch_size" in errors[0]


def test_wrong_type_at_the_top_is_one_clear_error():
    assert validate_submission([1, 2]) == ["$: expected object, got list"]


def test_every_missing_field_is_listed():
    errors = validate_submission({})
    assert len(errors) == len(SUBMISSION_SCHEMA["required"])


def test_nested_object_errors_name_the_full_path():
    x = R.standard_normal((40, 784)).astype(np.float32)
    model = Linear(784, 10, rng=R)
    submission = run_event("mlp_sprint", model, data=EventData(x, model(x).data.argmax(-1)))
    del submission["system"]["cpu_count"]
    submission["memory"]["peak_inference_bytes"] = 1.5
    errors = validate_submission(submission)
    assert any(e.startswith("$.system") and "cpu_count" in e for e in errors)
    assert any(e.startswith("$.memory.peak_inference_bytes") for e in errors)


def test_quality_of_the_language_model_counts_every_position():
    from tinytorch.core.transformer import GPT

    spec = EVENTS["transformer_decathlon"]
    model = GPT(vocab_size=66, embed_dim=16, num_layers=1, num_heads=2, max_seq_len=spec.context,
                rng=np.random.default_rng(0))
    windows = R.integers(0, 66, (spec.batch_size, spec.context))
    targets = np.array(predict(model, windows, 7))
    targets[:, :spec.context // 2] = (targets[:, :spec.context // 2] + 1) % 66
    submission = run_event("transformer_decathlon", model, data=EventData(windows, targets))
    assert submission["quality"]["value"] == 0.5 and submission["quality"]["metric"] == "next_char_accuracy"
    assert submission["valid"] is True


def test_a_model_exactly_at_the_floor_is_valid():
    x = R.standard_normal((20, 784)).astype(np.float32)
    model = Linear(784, 10, rng=np.random.default_rng(8))
    labels = model(x).data.argmax(-1)
    labels[0] = (labels[0] + 1) % 10  # 19 of 20 right: exactly the 0.95 floor
    submission = run_event("mlp_sprint", model, data=EventData(x, labels))
    assert submission["quality"]["value"] == 0.95 and submission["valid"] is True


def test_latency_queries_walk_the_samples_in_order():
    seen = []

    class Recorder(Linear):
        def forward(self, x):
            seen.append(float(x.data[0, 0]))
            return super().forward(x)

    inputs = np.zeros((60, 4), np.float32)
    inputs[:, 0] = np.arange(60)
    single_query_latency(Recorder(4, 2, rng=R), EVENTS["mlp_sprint"], EventData(inputs, np.zeros(60, np.int64)))
    queries = EVENTS["mlp_sprint"].latency_queries
    assert seen == [float(i % queries) for i in range(3 + queries)]


def test_throughput_is_not_rounded_to_whole_samples():
    from tinytorch.bench import throughput

    class Slow(Linear):
        def forward(self, x):
            time.sleep(0.4)
            return super().forward(x)

    value = throughput(Slow(4, 2, rng=R), EVENTS["mlp_sprint"], EventData(np.zeros((1, 4), np.float32), np.zeros(1, np.int64)))
    assert 2.1 < value < 2.5
