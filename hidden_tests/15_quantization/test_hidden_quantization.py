"""Module 15, hidden: per-channel vs per-tensor, rounding, axes, static vs dynamic inputs, whole models."""

import numpy as np
import pytest

from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.spatial import Conv2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import GPT
from tinytorch.perf.profiling import model_bytes
from tinytorch.perf.quantization import (
    ActivationRange,
    QuantizedConv2d,
    QuantizedLinear,
    QuantizedTensor,
    calibrate,
    quantization_params,
    quantize,
    quantize_model,
)


def test_per_channel_keeps_a_small_channel_precise_where_per_tensor_does_not(rng):
    weight = rng.standard_normal((64, 2)).astype(np.float32)
    weight[:, 1] *= 0.001
    per_channel, per_tensor = quantize(weight, axis=1), quantize(weight)
    small_error_channel = np.abs(per_channel.dequantize()[:, 1] - weight[:, 1]).max()
    small_error_tensor = np.abs(per_tensor.dequantize()[:, 1] - weight[:, 1]).max()
    assert small_error_channel < 0.01 * small_error_tensor + 1e-9
    assert np.ravel(per_tensor.scale).size == 1 and per_tensor.axis is None and per_channel.axis == 1


def test_rounding_is_to_nearest_not_truncation():
    qt = quantize(np.array([1.0, 0.996, -0.996], dtype=np.float32))  # 0.996·127 = 126.49
    assert qt.q.tolist() == [127, 126, -126]
    qt = quantize(np.array([1.0, 0.9985], dtype=np.float32))  # 126.8 rounds up
    assert qt.q.tolist() == [127, 127]


def test_negative_axis_means_the_same_channel(rng):
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(quantize(x, axis=-1).q, quantize(x, axis=2).q)
    assert np.shape(quantize(x, axis=-1).scale) == (1, 1, 5)


def test_axis_out_of_range_is_refused(rng):
    with pytest.raises(ValueError, match="axis"):
        quantize(rng.standard_normal((3, 4)), axis=2)


def test_asymmetric_per_channel_zero_points_are_int8(rng):
    x = np.stack([rng.uniform(5, 6, 30), rng.uniform(-9, -8, 30), rng.uniform(-1, 3, 30)], axis=1).astype(np.float32)
    qt = quantize(x, axis=1, symmetric=False)
    assert qt.zero_point.dtype == np.int8 and np.shape(qt.zero_point) == (1, 3)
    assert np.all(np.abs(qt.dequantize() - x) <= np.ravel(qt.scale) / 2 * (1 + 1e-5) + 1e-7)


def test_quantization_params_for_ranges_not_containing_zero():
    scale, zero_point = quantization_params(2.0, 4.0, symmetric=False)
    assert float(scale) == pytest.approx(4.0 / 255) and int(zero_point) == -128
    scale, zero_point = quantization_params(-4.0, -2.0, symmetric=False)
    assert float(scale) == pytest.approx(4.0 / 255) and int(zero_point) == 127


def test_dequantize_does_not_overflow_int8():
    qt = QuantizedTensor(np.array([-128, 127], dtype=np.int8), np.float32(0.5), np.int8(100))
    np.testing.assert_allclose(qt.dequantize(), [-114.0, 13.5])


def test_quantized_linear_accepts_sequences_and_no_bias(rng):
    linear = Linear(8, 6, bias=False, rng=rng)
    x = rng.standard_normal((2, 5, 8)).astype(np.float32)
    got = QuantizedLinear.from_float(linear)(Tensor(x)).data
    assert got.shape == (2, 5, 6)
    assert np.abs(got - linear(Tensor(x)).data).max() < 0.03 * np.abs(got).max()


def test_quantized_linear_refuses_the_wrong_width(rng):
    with pytest.raises(ValueError):
        QuantizedLinear.from_float(Linear(8, 6, rng=rng))(Tensor(np.zeros((2, 7), dtype=np.float32)))


def test_per_tensor_weights_are_an_option(rng):
    layer = QuantizedConv2d.from_float(Conv2d(2, 4, 3, rng=rng), per_channel=False)
    assert np.ravel(layer.weight.scale).size == 1
    layer = QuantizedLinear.from_float(Linear(5, 3, rng=rng), per_channel=False)
    assert np.ravel(layer.weight.scale).size == 1


def test_dynamic_inputs_follow_each_batch(rng):
    """Without calibration a batch of tiny values keeps its precision."""
    linear = Linear(4, 3, rng=rng)
    layer = QuantizedLinear.from_float(linear)
    x = (rng.standard_normal((6, 4)) * 1e-3).astype(np.float32)
    expected = linear(Tensor(x)).data - linear.bias.data
    got = layer(Tensor(x)).data - linear.bias.data
    assert np.abs(got - expected).max() < 0.02 * np.abs(expected).max()


def test_calibrated_layers_use_the_calibrated_range(rng):
    model = Sequential(Linear(4, 3, rng=rng))
    quantized = quantize_model(model, [Tensor(np.full((2, 4), 2.0, dtype=np.float32)),
                                       Tensor(np.full((2, 4), -1.0, dtype=np.float32))])
    layer = quantized.layers[0]
    assert float(layer.input_scale) == pytest.approx(3.0 / 255)
    assert int(layer.input_zero_point) == round(-128 + 1.0 / (3.0 / 255))


def test_calibrate_leaves_forward_methods_alone(rng):
    model = Sequential(Linear(4, 3, rng=rng))
    calibrate(model, [Tensor(np.ones((1, 4), dtype=np.float32))])
    assert "forward" not in vars(model.layers[0])


def test_activation_range_over_batches():
    observed = ActivationRange()
    for batch in (np.array([0.5, 2.0]), np.zeros(0), np.array([-3.0, 1.0])):
        observed.observe(batch)
    assert (observed.low, observed.high) == (-3.0, 2.0)


def test_quantize_model_on_a_single_layer(rng):
    linear = Linear(6, 2, rng=rng)
    assert isinstance(quantize_model(linear), QuantizedLinear)
    assert isinstance(linear, Linear) and not isinstance(linear, QuantizedLinear)


def test_quantized_gpt_keeps_its_predictions(rng):
    model = GPT(vocab_size=13, embed_dim=16, num_layers=2, num_heads=2, max_seq_len=8, rng=rng)
    tokens = rng.integers(0, 13, size=(3, 8))
    quantized = quantize_model(model, [tokens])
    assert isinstance(quantized.blocks[1].attention.q_proj, QuantizedLinear)
    assert isinstance(quantized.lm_head, QuantizedLinear) and quantized.lm_head.bias is None
    expected, got = model(tokens).data, quantized(tokens).data
    assert np.abs(got - expected).max() < 0.05 * np.abs(expected).max()
    assert model_bytes(quantized) < model_bytes(model)


def test_quantized_conv_model_is_four_times_smaller(rng):
    model = Sequential(Conv2d(64, 64, 3, rng=rng), Conv2d(64, 32, 3, rng=rng))
    assert model_bytes(model) / model_bytes(quantize_model(model)) >= 3.9


def test_fold_batchnorm_gives_a_bias_to_a_conv_without_one(rng):
    from tinytorch.core.spatial import BatchNorm2d
    from tinytorch.perf.quantization import fold_batchnorm

    model = Sequential(Conv2d(1, 3, 3, bias=False, rng=rng), BatchNorm2d(3))
    model.layers[1].running_mean = np.array([0.5, -0.5, 1.0], dtype=np.float32)
    model.layers[1].beta.data = np.array([0.1, 0.2, 0.3], dtype=np.float32)
    model.eval()
    x = Tensor(rng.standard_normal((2, 1, 5, 5)).astype(np.float32))
    expected = model(x).data
    folded = fold_batchnorm(model)
    assert len(folded.layers) == 1 and folded.layers[0].bias is not None
    np.testing.assert_allclose(folded(x).data, expected, rtol=1e-4, atol=1e-5)


def test_calibration_runs_in_eval_mode_and_restores_the_mode(rng):
    from tinytorch.core.layers import Dropout

    model = Sequential(Dropout(0.5, rng=rng), Linear(4, 2, rng=rng))
    ranges = calibrate(model, [Tensor(np.ones((8, 4), dtype=np.float32))])
    assert (ranges["layers.1"].low, ranges["layers.1"].high) == (1.0, 1.0)  # dropout off: no zeros, no 2s
    assert model.training and model.layers[0].training


def test_zero_point_rounds_to_nearest(rng):
    lows, highs = rng.uniform(-3.0, -0.1, 40).astype(np.float32), rng.uniform(0.1, 3.0, 40).astype(np.float32)
    scale, zero_point = quantization_params(lows, highs, symmetric=False)
    np.testing.assert_allclose(scale, (highs - lows) / 255, rtol=1e-6)
    expected = np.rint(-128 - lows.astype(np.float64) / scale.astype(np.float64))
    assert zero_point.dtype == np.int8 and np.array_equal(zero_point.astype(np.int64), expected.astype(np.int64))


# ---------------------------------------------------------------------- integer arithmetic, proven exactly
# The oracle below is written out in the test (it imports nothing from the graded file): dynamic
# asymmetric int8 quantization of the input, an exact int64 product with the int8 weights, one
# rescale per output. A layer that multiplies floats (dequantized weights, unquantized input)
# lands within ~1% of this, far outside the float32 rounding the check allows.

def _oracle_input(x):
    """(centered int64 input, its scale): asymmetric int8 over [min(x, 0), max(x, 0)], round half to even."""
    low, high = np.float32(min(float(x.min()), 0.0)), np.float32(max(float(x.max()), 0.0))
    scale = np.float32((high - low) / np.float32(255))
    scale = scale if scale > 0 else np.float32(1)
    zero_point = int(np.clip(np.rint(-128 - low / scale), -128, 127))
    q = np.clip(np.rint(x / scale) + zero_point, -128, 127).astype(np.int64)
    return q - zero_point, scale


def _assert_integer_result(got, expected, float_path):
    """got equals the integer oracle to float32 rounding, and the float computation would not."""
    tolerance = 1e-5 * float(np.abs(expected).max())
    assert float(np.abs(float_path - expected).max()) > 50 * tolerance, "test input too easy to tell apart"
    np.testing.assert_allclose(got, expected, rtol=0, atol=tolerance,
                               err_msg="the output is not the rescaled exact integer product of the int8 input "
                                       "and int8 weights (was the product computed in float?)")


def test_quantized_linear_is_the_exact_integer_product(rng):
    linear = Linear(24, 7, rng=rng)
    linear.bias = Tensor(rng.standard_normal(7).astype(np.float32) * 0.1, requires_grad=True)
    x = rng.standard_normal((5, 24)).astype(np.float32)
    layer = QuantizedLinear.from_float(linear)
    q_w, w_scale = np.asarray(layer.weight.q).astype(np.int64), np.asarray(layer.weight.scale, dtype=np.float32)
    centered, scale = _oracle_input(x)
    expected = ((centered @ q_w) * (np.float64(scale) * w_scale.reshape(-1))).astype(np.float32) + linear.bias.data
    float_path = x @ (q_w * w_scale.reshape(1, -1)).astype(np.float32) + linear.bias.data
    _assert_integer_result(np.asarray(layer(Tensor(x)).data), expected, float_path)


def test_quantized_conv2d_is_the_exact_integer_product(rng):
    from numpy.lib.stride_tricks import sliding_window_view

    conv = Conv2d(3, 4, 3, stride=2, padding=1, rng=rng)
    conv.bias = Tensor(rng.standard_normal(4).astype(np.float32) * 0.1, requires_grad=True)
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    layer = QuantizedConv2d.from_float(conv)
    q_w = np.asarray(layer.weight.q).astype(np.int64)
    w_scale = np.asarray(layer.weight.scale, dtype=np.float32).reshape(-1)
    centered, scale = _oracle_input(x)
    padded = np.pad(centered, ((0, 0), (0, 0), (1, 1), (1, 1)))  # real 0 is integer 0 once centred
    windows = sliding_window_view(padded, (3, 3), axis=(2, 3))[:, :, ::2, ::2]  # (N, C, Ho, Wo, 3, 3)
    accumulators = np.einsum("ncijab,fcab->nfij", windows, q_w)
    expected = (accumulators * (np.float64(scale) * w_scale.reshape(1, -1, 1, 1))).astype(np.float32)
    expected = expected + conv.bias.data.reshape(1, -1, 1, 1)
    dequantized = (q_w * w_scale.reshape(-1, 1, 1, 1)).astype(np.float32)
    float_windows = sliding_window_view(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3), axis=(2, 3))[:, :, ::2, ::2]
    float_path = np.einsum("ncijab,fcab->nfij", float_windows, dequantized) + conv.bias.data.reshape(1, -1, 1, 1)
    _assert_integer_result(np.asarray(layer(Tensor(x)).data), expected, float_path)


def test_the_centred_input_is_int16_integers(rng):
    """q - zero_point spans [-255, 255]: int16 holds it exactly (int8 would overflow, a float is no integer kernel)."""
    layer = QuantizedLinear.from_float(Linear(6, 3, rng=rng))
    x = (rng.standard_normal((4, 6)) * 3 + 2).astype(np.float32)
    centered, scale = layer.centered_input(x)
    centered = np.asarray(centered)
    expected, expected_scale = _oracle_input(x)
    assert centered.dtype == np.int16, f"centered input is {centered.dtype}, expected int16"
    np.testing.assert_array_equal(centered, expected)
    assert float(scale) == pytest.approx(float(expected_scale), rel=1e-6)


# ---------------------------------------------------------------------- edges the mutation run found untested
def test_the_most_negative_axis_is_the_first(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(quantize(x, axis=-2).q, quantize(x, axis=0).q)
    assert np.shape(quantize(x, axis=-2).scale) == (3, 1)
    with pytest.raises(ValueError, match="axis"):
        quantize(x, axis=-3)


def test_a_zero_range_and_an_empty_array_get_scale_one():
    for symmetric in (True, False):
        scale, zero_point = quantization_params(0.0, 0.0, symmetric=symmetric)
        assert float(scale) == 1.0, f"a zero range gets scale 1 (symmetric={symmetric}), got {float(scale)}"
    for symmetric in (True, False):
        empty = quantize(np.zeros((0, 3), dtype=np.float32), symmetric=symmetric)
        assert empty.q.shape == (0, 3) and float(np.ravel(empty.scale)[0]) == 1.0, "an empty array has the range [0, 0]"


def test_quantized_conv_names_the_wrong_channel_count(rng):
    layer = QuantizedConv2d.from_float(Conv2d(3, 4, 3, rng=rng))
    with pytest.raises(ValueError, match=r"\(2, 5, 6, 6\)|channel"):
        layer(Tensor(rng.standard_normal((2, 5, 6, 6)).astype(np.float32)))


def _layered(layer_class, build):
    """A model class of the test's own: attributes in the order ``build`` sets them."""

    class Model(layer_class):
        def __init__(self):
            build(self)

        def forward(self, x):
            for layer in self.body:
                x = layer(x)
            return x

    return Model()


def test_folding_looks_past_attributes_that_are_not_lists(rng):
    from tinytorch.core.layers import Layer
    from tinytorch.core.spatial import BatchNorm2d
    from tinytorch.perf.quantization import fold_batchnorm

    def build(model):
        model.width = 3  # a plain attribute before the list of layers
        model.body = [Conv2d(1, 3, 3, rng=rng), BatchNorm2d(3)]

    model = _layered(Layer, build)
    model.eval()
    x = Tensor(rng.standard_normal((2, 1, 5, 5)).astype(np.float32))
    expected = model(x).data
    fold_batchnorm(model)
    assert len(model.body) == 1, "the BatchNorm2d after the Conv2d in model.body was not folded"
    np.testing.assert_allclose(model(x).data, expected, rtol=1e-4, atol=1e-5)


def test_quantize_model_keeps_a_tuple_of_layers_a_tuple(rng):
    from tinytorch.core.layers import Layer

    def build(model):
        model.body = (Linear(4, 3, rng=rng), Linear(3, 2, rng=rng))

    quantized = quantize_model(_layered(Layer, build))
    assert isinstance(quantized.body, tuple), f"model.body became a {type(quantized.body).__name__}"
    assert all(isinstance(layer, QuantizedLinear) for layer in quantized.body)
