"""Module 14: the per-layer profile of a forward pass, timed with a fake clock."""

import time

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Layer, Linear, Sequential
from tinytorch.core.spatial import Conv2d, Flatten, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.perf import profiling
from tinytorch.perf.profiling import named_layers, profile_model


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


class Costly(Layer):
    """Identity that takes a known number of (fake) milliseconds."""

    def __init__(self, clock, ms):
        self.clock, self.ms = clock, ms

    def forward(self, x):
        self.clock.seconds += self.ms / 1e3
        return x


def small_cnn(rng):
    return Sequential(Conv2d(1, 4, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2), Flatten(), Linear(4 * 4 * 4, 10, rng=rng))


def test_named_layers_follow_attribute_paths(rng):
    names = [name for name, _ in named_layers(small_cnn(rng))]
    assert names == ["", "layers.0", "layers.1", "layers.2", "layers.3", "layers.4"]


def test_profile_has_one_row_per_leaf_layer_with_shapes(rng):
    profile = profile_model(small_cnn(rng), Tensor(np.zeros((2, 1, 8, 8), dtype=np.float32)))
    assert [row.kind for row in profile.layers] == ["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]
    assert [row.output_shape for row in profile.layers] == [(2, 4, 8, 8), (2, 4, 8, 8), (2, 4, 4, 4), (2, 64), (2, 10)]


def test_profile_counts_params_flops_and_activation_bytes(rng):
    profile = profile_model(small_cnn(rng), Tensor(np.zeros((2, 1, 8, 8), dtype=np.float32)))
    conv, linear = profile.layers[0], profile.layers[4]
    assert (conv.params, conv.flops, conv.activation_bytes) == (40, 2 * 2 * 8 * 8 * 4 * 1 * 9, 2 * 4 * 8 * 8 * 4)
    assert (linear.params, linear.flops) == (650, 2 * 2 * 64 * 10)
    assert profile.total_params == 690
    assert profile.total_flops == conv.flops + linear.flops


def test_profile_times_each_layer(clock):
    model = Sequential(Costly(clock, 5), ReLU(), Costly(clock, 20), Costly(clock, 1))
    profile = profile_model(model, Tensor(np.zeros((1, 3), dtype=np.float32)))
    assert [row.ms for row in profile.layers] == pytest.approx([5, 0, 20, 1])
    assert profile.total_ms == pytest.approx(26)


def test_bottleneck_is_the_slowest_layer(clock):
    model = Sequential(Costly(clock, 5), Costly(clock, 20), Costly(clock, 1))
    assert profile_model(model, Tensor(np.zeros(3, dtype=np.float32))).bottleneck().name == "layers.1"


def test_table_lists_the_slowest_layer_first_with_its_share(clock):
    """Rows sorted by time; each row shows its percentage of the total with one decimal."""
    model = Sequential(Costly(clock, 5), Costly(clock, 20), Costly(clock, 15))
    table = profile_model(model, Tensor(np.zeros(3, dtype=np.float32))).table()
    positions = [table.index(name) for name in ("layers.1", "layers.2", "layers.0")]
    assert positions == sorted(positions)
    row = next(line for line in table.splitlines() if "layers.1" in line)
    assert "50.0%" in row


def test_profile_leaves_the_model_unchanged(rng):
    model = small_cnn(rng)
    x = Tensor(rng.standard_normal((2, 1, 8, 8)).astype(np.float32))
    before = model(x).data
    profile_model(model, x)
    assert all("forward" not in vars(layer) for _, layer in named_layers(model))
    np.testing.assert_array_equal(model(x).data, before)
