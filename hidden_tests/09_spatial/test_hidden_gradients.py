"""Module 09, hidden: float64 finite-difference checks of every spatial layer, and their edge cases."""

import numpy as np
import pytest

from tinytorch.core.spatial import AvgPool2d, BatchNorm2d, Conv2d, Flatten, MaxPool2d
from tinytorch.core.tensor import Tensor

R = np.random.default_rng(7)


def _conv(stride, padding, bias=True, kernel=3):
    conv = Conv2d(2, 3, kernel, stride=stride, padding=padding, bias=bias, rng=np.random.default_rng(0))

    def run(x, w, *b):
        conv.weight = w
        if bias:
            conv.bias = b[0]
        return conv(x)

    return run


CASES = {
    "Conv2dBackward": [
        ("stride1_pad1", _conv(1, 1), [R.standard_normal((2, 2, 5, 5)), R.standard_normal((3, 2, 3, 3)), R.standard_normal(3)]),
        ("stride2_pad0", _conv(2, 0), [R.standard_normal((1, 2, 7, 6)), R.standard_normal((3, 2, 3, 3)), R.standard_normal(3)]),
        ("no_bias_kernel2", _conv(1, 0, bias=False, kernel=2), [R.standard_normal((2, 2, 4, 4)), R.standard_normal((3, 2, 2, 2))]),
        ("stride2_pad1", _conv(2, 1), [R.standard_normal((1, 2, 7, 6)), R.standard_normal((3, 2, 3, 3)), R.standard_normal(3)]),
        ("kernel1_pad1", _conv(1, 1, kernel=1), [R.standard_normal((1, 2, 4, 3)), R.standard_normal((3, 2, 1, 1)), R.standard_normal(3)]),
    ],
    "MaxPool2dBackward": [
        ("k2", lambda x: MaxPool2d(2)(x), [R.permutation(64).reshape(1, 2, 4, 8) * 0.1]),
        ("overlapping_k3_s2", lambda x: MaxPool2d(3, stride=2)(x), [R.permutation(98).reshape(2, 1, 7, 7) * 0.1]),
        ("taller_than_wide_k2", lambda x: MaxPool2d(2)(x), [R.permutation(30).reshape(1, 2, 5, 3) * 0.1]),
    ],
    "AvgPool2dBackward": [
        ("k2", lambda x: AvgPool2d(2)(x), [R.standard_normal((2, 2, 4, 4))]),
        ("overlapping_k3_s1", lambda x: AvgPool2d(3, stride=1)(x), [R.standard_normal((1, 2, 5, 5))]),
    ],
    "BatchNorm2dBackward": [
        ("train_with_affine", None, [R.standard_normal((3, 2, 3, 3)) * 2 + 1, R.standard_normal(2), R.standard_normal(2)]),
    ],
}


def _batchnorm(x, gamma, beta):
    bn = BatchNorm2d(2)
    bn.gamma, bn.beta = gamma, beta
    return bn(x)


CASES["BatchNorm2dBackward"][0] = ("train_with_affine", _batchnorm, CASES["BatchNorm2dBackward"][0][2])
FLAT = [(rule, name, fn, arrays) for rule, cases in CASES.items() for name, fn, arrays in cases]


@pytest.mark.parametrize("rule,name,fn,arrays", FLAT, ids=[f"{r}-{n}" for r, n, _, _ in FLAT])
def test_layer_matches_finite_differences(gradcheck, rule, name, fn, arrays):
    assert gradcheck(fn, *arrays, atol=1e-5, rtol=1e-4)


def test_flatten_passes_gradients_back_to_the_image(gradcheck):
    assert gradcheck(lambda x: Flatten()(x) * Tensor(np.arange(12.0)), R.standard_normal((2, 3, 2, 2)))


def test_batchnorm_in_eval_mode_is_tracked(gradcheck):
    def run(x, gamma):
        bn = BatchNorm2d(2)
        bn.gamma = gamma
        bn.running_mean = np.array([0.5, -0.5], dtype=np.float32)
        bn.eval()
        return bn(x)

    assert gradcheck(run, R.standard_normal((2, 2, 2, 2)), R.standard_normal(2))


def test_running_statistics_follow_pytorch_momentum_and_unbiased_variance():
    x = R.standard_normal((4, 2, 3, 3)).astype(np.float32) * 3 + 1
    bn = BatchNorm2d(2, momentum=0.1)
    bn(Tensor(x))
    expected_mean = 0.9 * 0 + 0.1 * x.mean(axis=(0, 2, 3))
    expected_var = 0.9 * 1 + 0.1 * x.var(axis=(0, 2, 3), ddof=1)
    np.testing.assert_allclose(bn.running_mean, expected_mean, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var, expected_var, rtol=1e-5)


def test_eval_mode_does_not_update_running_statistics():
    bn = BatchNorm2d(2).eval()
    bn(Tensor(R.standard_normal((2, 2, 2, 2)).astype(np.float32) + 5))
    np.testing.assert_array_equal(bn.running_mean, [0, 0])


def test_conv_padding_keeps_size_and_borders_are_zero_padded():
    conv = Conv2d(1, 1, 3, padding=1, bias=False)
    conv.weight.data = np.ones((1, 1, 3, 3), dtype=np.float32)
    out = conv(Tensor(np.ones((1, 1, 4, 4), dtype=np.float32))).data[0, 0]
    assert out.shape == (4, 4)
    assert out[0, 0] == 4 and out[0, 1] == 6 and out[1, 1] == 9


def test_conv_non_square_input_and_batch_of_one():
    conv = Conv2d(3, 2, 3, stride=2, padding=1)
    assert conv(Tensor(np.zeros((1, 3, 9, 6), dtype=np.float32))).shape == (1, 2, 5, 3)


def test_conv_kernel_as_a_pair():
    conv = Conv2d(1, 1, (1, 3))
    assert conv(Tensor(np.zeros((1, 1, 4, 5), dtype=np.float32))).shape == (1, 1, 4, 3)


def test_conv_input_is_not_modified():
    x = R.standard_normal((1, 2, 4, 4)).astype(np.float32)
    copy = x.copy()
    Conv2d(2, 2, 3, padding=1)(Tensor(x))
    np.testing.assert_array_equal(x, copy)


def test_maxpool_gradient_goes_only_to_the_maximum():
    x = Tensor(np.array([[[[1.0, 2.0], [4.0, 3.0]]]], dtype=np.float32), requires_grad=True)
    MaxPool2d(2)(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[0, 0], [1, 0]]]])


def test_conv_gradients_reach_weights_and_bias_in_float32():
    conv = Conv2d(2, 3, 3, padding=1)
    x = Tensor(R.standard_normal((2, 2, 5, 5)).astype(np.float32), requires_grad=True)
    conv(x).sum().backward()
    assert conv.weight.grad.dtype == np.float32 and conv.bias.grad.shape == (3,)
    np.testing.assert_allclose(conv.bias.grad.data, [50.0] * 3)
    assert x.grad.shape == x.shape


def test_batchnorm_of_a_constant_channel_is_beta():
    """Zero variance: eps inside the square root keeps the output finite (x_hat = 0, so beta)."""
    bn = BatchNorm2d(2)
    bn.beta.data = np.array([0.5, -1.0], dtype=np.float32)
    out = bn(Tensor(np.full((2, 2, 3, 3), 4.0, dtype=np.float32))).data
    np.testing.assert_allclose(out[:, 0], 0.5, atol=1e-5)
    np.testing.assert_allclose(out[:, 1], -1.0, atol=1e-5)


def test_running_statistics_blend_with_their_previous_values():
    x = R.standard_normal((4, 2, 3, 3)).astype(np.float32) * 2 - 1
    bn = BatchNorm2d(2, momentum=0.25)
    bn.running_mean = np.array([2.0, -3.0], dtype=np.float32)
    bn.running_var = np.array([4.0, 0.5], dtype=np.float32)
    bn(Tensor(x))
    np.testing.assert_allclose(bn.running_mean, 0.75 * np.array([2.0, -3.0]) + 0.25 * x.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var, 0.75 * np.array([4.0, 0.5]) + 0.25 * x.var(axis=(0, 2, 3), ddof=1),
                               rtol=1e-5)


def test_batchnorm_eval_uses_the_running_statistics_formula():
    bn = BatchNorm2d(2, eps=0.01)
    bn.running_mean = np.array([1.0, -2.0], dtype=np.float32)
    bn.running_var = np.array([4.0, 0.25], dtype=np.float32)
    bn.gamma.data = np.array([2.0, 0.5], dtype=np.float32)
    bn.beta.data = np.array([0.1, -0.3], dtype=np.float32)
    bn.eval()
    x = R.standard_normal((2, 2, 3, 3)).astype(np.float32)
    mean, var = np.array([1.0, -2.0])[None, :, None, None], np.array([4.0, 0.25])[None, :, None, None]
    gamma, beta = np.array([2.0, 0.5])[None, :, None, None], np.array([0.1, -0.3])[None, :, None, None]
    expected = (x - mean) / np.sqrt(var + 0.01) * gamma + beta
    np.testing.assert_allclose(bn(Tensor(x)).data, expected, rtol=1e-5, atol=1e-6)


def test_conv_weights_follow_he_initialisation():
    conv = Conv2d(16, 32, (3, 5), rng=np.random.default_rng(0))
    assert conv.weight.shape == (32, 16, 3, 5) and conv.weight.dtype == np.float32
    assert conv.weight.data.std() == pytest.approx(np.sqrt(2.0 / (16 * 3 * 5)), rel=0.05)
    np.testing.assert_array_equal(conv.bias.data, np.zeros(32, dtype=np.float32))


def test_conv_input_with_the_wrong_channel_count_is_refused_naming_its_shape():
    with pytest.raises(ValueError, match=r"\(2, 2, 5, 5\)"):
        Conv2d(3, 4, 3)(Tensor(np.zeros((2, 2, 5, 5), dtype=np.float32)))


def test_unbiased_running_variance_with_two_values_per_channel():
    x = np.array([1.0, 3.0], dtype=np.float32).reshape(2, 1, 1, 1)
    bn = BatchNorm2d(1, momentum=0.5)
    bn(Tensor(x))
    assert bn.running_var[0] == pytest.approx(0.5 * 1.0 + 0.5 * 2.0)  # sample variance of (1, 3) is 2
