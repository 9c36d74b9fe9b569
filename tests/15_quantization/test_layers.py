"""Module 15: int8 Linear and Conv2d layers, exact integer matmul and calibration."""

import dataclasses

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.spatial import Conv2d
from tinytorch.core.tensor import Tensor
from tinytorch.perf.quantization import (
    ActivationRange,
    QuantizedConv2d,
    QuantizedLinear,
    calibrate,
    integer_matmul,
)


def stored_arrays(obj):
    """Every NumPy array held by a layer, through its attributes and dataclass fields."""
    found = []
    for value in vars(obj).values():
        if isinstance(value, Tensor):
            found.append(value.data)
        elif isinstance(value, np.ndarray):
            found.append(value)
        elif dataclasses.is_dataclass(value):
            found.extend(stored_arrays(value))
    return found


def relative_error(got, expected):
    return np.abs(got - expected).max() / np.abs(expected).max()


def test_integer_matmul_is_exact(rng):
    a = rng.integers(-255, 256, size=(7, 300)).astype(np.int16)
    b = rng.integers(-127, 128, size=(300, 5)).astype(np.int8)
    got = integer_matmul(a, b)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, a.astype(np.int64) @ b.astype(np.int64))


def test_quantized_linear_keeps_only_int8_weights(rng):
    linear = Linear(32, 16, rng=rng)
    layer = QuantizedLinear.from_float(linear)
    assert layer.weight.q.dtype == np.int8 and layer.weight.q.shape == (32, 16)
    assert np.ravel(layer.weight.scale).shape == (16,)
    floats = [a for a in stored_arrays(layer) if a.dtype.kind == "f"]
    assert all(a.size < 32 * 16 for a in floats), "a float copy of the weight is kept on the layer"


def test_quantized_linear_matches_the_float_layer(rng):
    linear = Linear(32, 16, rng=rng)
    linear.bias.data = rng.standard_normal(16).astype(np.float32)
    x = rng.standard_normal((8, 32)).astype(np.float32)
    expected = linear(Tensor(x)).data
    got = QuantizedLinear.from_float(linear)(Tensor(x)).data
    assert got.dtype == np.float32 and got.shape == (8, 16)
    assert relative_error(got, expected) < 0.02


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 1), (2, 1)])
def test_quantized_conv2d_matches_the_float_layer(rng, stride, padding):
    conv = Conv2d(3, 6, 3, stride=stride, padding=padding, rng=rng)
    conv.bias.data = (rng.standard_normal(6) * 0.1).astype(np.float32)
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    layer = QuantizedConv2d.from_float(conv)
    assert layer.weight.q.dtype == np.int8 and np.ravel(layer.weight.scale).shape == (6,)
    got = layer(Tensor(x)).data
    expected = conv(Tensor(x)).data
    assert got.shape == expected.shape and relative_error(got, expected) < 0.02


def test_quantized_conv2d_pads_with_real_zeros(rng):
    """All-positive input: the zero point is -128, so padding must be the zero point, not integer 0."""
    conv = Conv2d(1, 2, 3, padding=1, rng=rng)
    x = rng.uniform(1.0, 2.0, size=(1, 1, 5, 5)).astype(np.float32)
    got = QuantizedConv2d.from_float(conv)(Tensor(x)).data
    assert relative_error(got, conv(Tensor(x)).data) < 0.02


def test_calibrate_records_each_layers_input_range(rng):
    model = Sequential(Linear(4, 8, rng=rng), ReLU(), Linear(8, 2, rng=rng))
    batches = [Tensor(rng.standard_normal((5, 4)).astype(np.float32)) for _ in range(3)]
    ranges = calibrate(model, batches)
    assert set(ranges) == {"layers.0", "layers.2"}
    everything = np.concatenate([b.data for b in batches])
    assert ranges["layers.0"].low == pytest.approx(everything.min())
    assert ranges["layers.0"].high == pytest.approx(everything.max())
    hidden = np.concatenate([np.maximum(model.layers[0](b).data, 0) for b in batches])
    assert ranges["layers.2"].low == pytest.approx(0.0) and ranges["layers.2"].high == pytest.approx(hidden.max())


def test_static_input_range_saturates_outside_the_calibrated_range(rng):
    linear = Linear(1, 1, bias=False, rng=rng)
    linear.weight.data = np.ones((1, 1), dtype=np.float32)
    observed = ActivationRange()
    observed.observe(np.array([-1.0, 1.0]))
    layer = QuantizedLinear.from_float(linear, input_range=observed)
    out = layer(Tensor(np.array([[0.5], [5.0]], dtype=np.float32))).data.ravel()
    assert out[0] == pytest.approx(0.5, abs=2 / 255)
    assert out[1] == pytest.approx(1.0, abs=2 / 255)
