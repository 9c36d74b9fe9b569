"""Module 18: a fused GELU and two convolutions that agree with their plain versions."""

import numpy as np
import pytest
from tinytorch_grader.testkit import peak_bytes

from tinytorch.core.spatial import Conv2d
from tinytorch.core.tensor import Tensor
from tinytorch.perf.acceleration import conv2d_im2col, conv2d_loops, gelu_fused, gelu_unfused

R = np.random.default_rng(0)


def test_gelu_matches_its_definition():
    x = np.array([-3.0, -1.0, 0.0, 0.5, 2.0])
    expected = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(gelu_unfused(x), expected, rtol=1e-6)
    np.testing.assert_allclose(gelu_fused(x), expected, rtol=1e-6)


def test_fused_gelu_writes_into_the_given_buffer():
    """Writing into ``out`` means no new output array: measured where gelu_fused runs."""
    x = R.standard_normal((400, 250)).astype(np.float32)
    out = np.empty_like(x)
    result, peak = peak_bytes(gelu_fused, x, out=out)
    np.testing.assert_allclose(result, gelu_unfused(x), rtol=1e-5, atol=1e-6)
    assert peak < x.nbytes // 4, f"gelu_fused allocated {peak} bytes although out was given ({x.nbytes} bytes)"


def test_fused_gelu_leaves_its_input_alone():
    x = R.standard_normal(10).astype(np.float32)
    before = x.copy()
    gelu_fused(x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 1), (2, 1)])
def test_both_convolutions_match_conv2d(stride, padding):
    conv = Conv2d(3, 4, 3, stride=stride, padding=padding, rng=np.random.default_rng(1))
    conv.bias.data = R.standard_normal(4).astype(np.float32)
    x = R.standard_normal((2, 3, 7, 7)).astype(np.float32)
    expected = conv(Tensor(x)).data
    w, b = conv.weight.data, conv.bias.data
    np.testing.assert_allclose(conv2d_loops(x, w, b, stride, padding), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(conv2d_im2col(x, w, b, stride, padding), expected, rtol=1e-4, atol=1e-5)


def test_convolutions_without_bias_have_the_right_shape():
    x = R.standard_normal((1, 2, 5, 6)).astype(np.float32)
    w = R.standard_normal((3, 2, 3, 3)).astype(np.float32)
    assert conv2d_loops(x, w).shape == conv2d_im2col(x, w).shape == (1, 3, 3, 4)
