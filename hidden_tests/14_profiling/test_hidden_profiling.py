"""Module 14, hidden: GPT profiles, shared and failing layers, edge cases of every counter."""

import time

import numpy as np
import pytest
from tinytorch_grader.testkit import object_id

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Layer, Linear, Sequential
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import GPT
from tinytorch.perf import profiling
from tinytorch.perf.profiling import (
    Latency,
    ModelProfile,
    activation_bytes,
    count_parameters,
    layer_flops,
    measure_latency,
    model_bytes,
    named_layers,
    peak_memory,
    profile_model,
)


class FakeClock:
    def __init__(self):
        self.seconds = 1000.0  # not 0, so a sum of clock readings cannot pass for a difference

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(time, "perf_counter", fake)
    if hasattr(profiling, "time"):  # the time module where the code under test runs
        monkeypatch.setattr(profiling.time, "perf_counter", fake)
    monkeypatch.setattr(profiling, "perf_counter", fake, raising=False)
    return fake


def tiny_gpt(rng):
    return GPT(vocab_size=11, embed_dim=8, num_layers=2, num_heads=2, max_seq_len=6, rng=rng)


def test_gpt_profile_times_attention_whole_and_counts_every_parameter(rng):
    model = tiny_gpt(rng)
    profile = profile_model(model, np.zeros((3, 5), dtype=np.int64))
    attention = [row for row in profile.layers if row.kind == "MultiHeadAttention"]
    assert [row.name for row in attention] == ["blocks.0.attention", "blocks.1.attention"]
    assert attention[0].flops == 8 * 3 * 5 * 8 * 8 + 4 * 3 * 5 * 5 * 8
    assert not any(".attention." in row.name for row in profile.layers)
    assert profile.total_params == count_parameters(model)
    assert sum(row.params for row in profile.layers) == count_parameters(model)


def test_gpt_profile_covers_the_head_and_the_mlp(rng):
    profile = profile_model(tiny_gpt(rng), np.zeros((2, 4), dtype=np.int64))
    rows = {row.name: row for row in profile.layers}
    assert rows["lm_head"].flops == 2 * 2 * 4 * 8 * 11 and rows["lm_head"].output_shape == (2, 4, 11)
    assert rows["blocks.1.mlp.fc1"].output_shape == (2, 4, 32)
    assert rows["token_embedding"].flops == 0


def test_a_layer_called_twice_gets_one_row_summed(rng, clock):
    class Twice(Layer):
        def __init__(self):
            self.shared = Linear(4, 4, rng=rng)

        def forward(self, x):
            return self.shared(self.shared(x))

    profile = profile_model(Twice(), Tensor(np.zeros((3, 4), dtype=np.float32)))
    (row,) = profile.layers
    assert row.calls == 2 and row.flops == 2 * (2 * 3 * 4 * 4) and row.activation_bytes == 2 * 3 * 4 * 4


def test_forward_is_restored_when_the_model_raises(rng):
    class Broken(Layer):
        def forward(self, x):
            raise RuntimeError("boom")

    first = Linear(3, 3, rng=rng)
    model = Sequential(first, Broken())
    with pytest.raises(RuntimeError, match="boom"):
        profile_model(model, Tensor(np.zeros((1, 3), dtype=np.float32)))
    assert all("forward" not in vars(layer) for _, layer in named_layers(model))
    assert first(Tensor(np.ones((1, 3), dtype=np.float32))).shape == (1, 3)


def test_profile_records_no_graph(rng):
    model = Sequential(Linear(3, 3, rng=rng))
    seen = []
    original = model.layers[0].forward

    def spy(x):
        out = original(x)
        seen.append(out)
        return out

    model.layers[0].forward = spy
    installed = object_id(model.layers[0], "forward")
    profile_model(model, Tensor(np.ones((1, 3), dtype=np.float32)))
    assert seen[0].grad_fn is None
    assert object_id(model.layers[0], "forward") == installed  # the layer's own forward (the spy) is back


def test_a_layer_may_give_its_own_flops(rng):
    class Custom(Layer):
        def flops(self, input_shape):
            return 7 * input_shape[0]

        def forward(self, x):
            return x

    assert layer_flops(Custom(), (3, 2)) == 21
    assert profile_model(Sequential(Custom()), Tensor(np.zeros((5, 2), dtype=np.float32))).total_flops == 35


def test_activations_have_no_flop_rule():
    with pytest.raises(ValueError, match="ReLU"):
        layer_flops(ReLU(), (2, 3))


def test_conv_flops_refuse_the_wrong_channel_count(rng):
    from tinytorch.core.spatial import Conv2d

    with pytest.raises(ValueError):
        layer_flops(Conv2d(3, 4, 3, rng=rng), (1, 2, 8, 8))


def test_model_bytes_walks_dataclasses_dicts_and_float64():
    Packed = profiling.dataclasses.make_dataclass("Packed", ["q", "scale"])  # a dataclass where model_bytes runs

    class Holder(Layer):
        def __init__(self):
            self.packed = Packed(np.zeros(100, dtype=np.int8), np.zeros(4, dtype=np.float32))
            self.table = {"a": np.zeros(3, dtype=np.float64)}
            self.weight = Tensor(np.zeros((2, 2), dtype=np.float64), requires_grad=True)
            self.name = "not an array"

    assert model_bytes(Holder()) == 100 + 16 + 24 + 32


def test_model_bytes_ignores_gradients(rng):
    layer = Linear(3, 2, rng=rng)
    before = model_bytes(layer)
    layer(Tensor(np.ones((1, 3), dtype=np.float32))).sum().backward()
    assert layer.weight.grad is not None and model_bytes(layer) == before


def test_named_layers_lists_a_shared_layer_once(rng):
    shared = Linear(2, 2, rng=rng)
    names = [name for name, _ in named_layers(Sequential(shared, ReLU(), shared))]
    assert names == ["", "layers.0", "layers.1"]


def test_activation_bytes_sum_every_leaf_output(rng):
    model = Sequential(Linear(6, 12, rng=rng), ReLU(), Linear(12, 3, rng=rng))
    assert activation_bytes(model, Tensor(np.zeros((5, 6), dtype=np.float32))) == (5 * 12 * 2 + 5 * 3) * 4


def test_latency_percentiles_interpolate():
    samples = [float(v) for v in range(1, 101)]
    latency = Latency.from_samples(samples)
    assert latency.p99_ms == pytest.approx(99.01) and latency.p90_ms == pytest.approx(90.1)
    assert latency.mean_ms == pytest.approx(50.5)


def test_measure_latency_never_records_warmup(clock):
    calls = []

    def fn():
        calls.append(None)
        clock.seconds += (1.0 if len(calls) <= 5 else 0.001)  # warm-up calls are very slow

    latency = measure_latency(fn, warmup=5, repeats=4)
    assert max(latency.samples) == pytest.approx(1.0) and latency.p99_ms < 1.5


@pytest.mark.parametrize("warmup,repeats", [(-1, 5), (0, 0)])
def test_measure_latency_refuses_bad_counts(warmup, repeats):
    with pytest.raises(ValueError):
        measure_latency(lambda: None, warmup=warmup, repeats=repeats)


def test_peak_memory_inside_an_existing_trace():
    """The trace is started, and the memory held and allocated, where the code under test runs."""
    profiling.tracemalloc.start()
    try:
        held = Tensor(np.ones(1_000_000))
        peak = peak_memory(profiling.np.ones, 250_000)
        assert 2_000_000 <= peak < 3_000_000 and profiling.tracemalloc.is_tracing()
        assert held.shape == (1_000_000,)
    finally:
        profiling.tracemalloc.stop()


def test_bottleneck_of_an_empty_profile_is_an_error():
    with pytest.raises(ValueError):
        ModelProfile(layers=[], total_ms=0.0, total_params=0).bottleneck()


def test_table_shows_every_row_and_the_totals(rng):
    model = Sequential(Linear(4, 8, rng=rng), ReLU(), Linear(8, 2, rng=rng))
    profile = profile_model(model, Tensor(np.zeros((2, 4), dtype=np.float32)))
    table = profile.table()
    for name in ("layers.0", "layers.1", "layers.2"):
        assert name in table
    assert "total" in table.splitlines()[-1] and "58" in table.splitlines()[-1]


def test_intercept_forward_restores_a_layer_listed_twice(rng):
    from tinytorch.perf.profiling import intercept_forward

    layer = Linear(2, 2, rng=rng)
    calls = []
    with intercept_forward([("a", layer), ("b", layer)], lambda name, *rest: calls.append(name)):
        layer(Tensor(np.ones((1, 2), dtype=np.float32)))
    assert sorted(calls) == ["a", "b"] and "forward" not in vars(layer)


def test_a_single_repeat_is_allowed(clock):
    latency = measure_latency(lambda: setattr(clock, "seconds", clock.seconds + 0.002), warmup=0, repeats=1)
    assert latency.samples == pytest.approx((2.0,)) and latency.p99_ms == pytest.approx(2.0)


def test_table_of_an_instant_pass_does_not_divide_by_zero():
    from tinytorch.perf.profiling import LayerProfile

    row = LayerProfile(name="only", kind="ReLU", output_shape=(1,), params=0, flops=0, activation_bytes=4, ms=0.0)
    table = ModelProfile(layers=[row], total_ms=0.0, total_params=0).table()
    assert "only" in table and "nan" not in table and "inf" not in table


def _table_profile(total_ms, row_ms):
    from tinytorch.perf.profiling import LayerProfile, ModelProfile

    rows = [LayerProfile(name=f"layer{i}", kind="Linear", output_shape=(1, 4), params=10, flops=80,
                         activation_bytes=16, ms=ms) for i, ms in enumerate(row_ms)]
    return ModelProfile(layers=rows, total_ms=total_ms, total_params=10 * len(rows))


def test_table_shows_the_time_between_layers():
    table = _table_profile(10.0, [4.0, 3.0]).table()
    between = next(line for line in table.splitlines() if line.startswith("(between layers)"))
    assert "3.000" in between and "30.0%" in between


def test_table_shares_of_a_sub_millisecond_pass():
    table = _table_profile(0.5, [0.25, 0.25]).table()
    assert table.count("50.0%") == 2
    between = next(line for line in table.splitlines() if line.startswith("(between layers)"))
    assert "0.000" in between and "0.0%" in between


def test_profile_rows_are_in_milliseconds():
    import time

    from tinytorch.core.layers import Layer
    from tinytorch.perf.profiling import profile_model

    class Sleepy(Layer):
        def forward(self, x):
            time.sleep(0.03)
            return x

    class Net(Layer):
        def __init__(self):
            self.inner = Sleepy()

        def forward(self, x):
            return self.inner(self.inner(x))  # called twice: one row, both calls summed

    profile = profile_model(Net(), Tensor(np.zeros((1, 2), np.float32)))
    row = next(r for r in profile.layers if r.kind == "Sleepy")
    assert row.calls == 2 and 50 <= row.ms <= 500, row.ms


def test_a_function_that_allocates_nothing_peaks_at_zero_bytes():
    from tinytorch.perf.profiling import peak_memory

    assert peak_memory(profiling.tracemalloc.is_tracing) == 0  # runs where it is traced; returns a bool singleton


def test_a_profile_with_no_measured_total_divides_by_one_millisecond():
    """A timer too coarse to see the pass gives total_ms 0: shares are then taken of 1 ms, as documented."""
    table = _table_profile(0.0, [0.5]).table()
    row = next(line for line in table.splitlines() if line.startswith("layer0"))
    assert row.rstrip().endswith("50.0%"), row


def test_rows_of_a_layer_called_twice_are_summed_in_milliseconds(clock):
    """A fake clock that only moves inside the layer: two calls of 0.25 s are exactly 500 ms, and the whole pass too."""
    from tinytorch.core.layers import Layer
    from tinytorch.perf.profiling import profile_model

    class QuarterSecond(Layer):
        def forward(self, x):
            clock.seconds += 0.25
            return x

    class Net(Layer):
        def __init__(self):
            self.inner = QuarterSecond()

        def forward(self, x):
            return self.inner(self.inner(x))

    profile = profile_model(Net(), Tensor(np.zeros((1, 2), np.float32)))
    row = next(r for r in profile.layers if r.kind == "QuarterSecond")
    assert row.calls == 2 and row.ms == pytest.approx(500.0, abs=1e-6), row.ms
    assert profile.total_ms == pytest.approx(500.0, abs=1e-6)