"""Module 09: convolution, pooling, batch norm and flatten against naive loops on tiny inputs."""

import numpy as np
import pytest

from tinytorch.core.spatial import AvgPool2d, BatchNorm2d, Conv2d, Flatten, MaxPool2d
from tinytorch.core.tensor import Tensor


def naive_conv(x, w, b, stride, padding):
    """Seven loops, the definition of a convolution (slow; for checking only)."""
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho, wo = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, f, ho, wo))
    for i in range(n):
        for k in range(f):
            for r in range(ho):
                for s in range(wo):
                    patch = x[i, :, r * stride:r * stride + kh, s * stride:s * stride + kw]
                    out[i, k, r, s] = (patch * w[k]).sum() + (b[k] if b is not None else 0)
    return out


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 1), (2, 1), (2, 0)])
def test_conv2d_matches_the_naive_definition(rng, stride, padding):
    conv = Conv2d(2, 3, 3, stride=stride, padding=padding, rng=rng)
    conv.bias.data = rng.standard_normal(3).astype(np.float32)
    x = rng.standard_normal((2, 2, 6, 5)).astype(np.float32)
    expected = naive_conv(x, conv.weight.data, conv.bias.data, stride, padding)
    np.testing.assert_allclose(conv(Tensor(x)).data, expected, rtol=1e-4, atol=1e-5)


def test_conv2d_output_shape():
    conv = Conv2d(3, 8, kernel_size=3, padding=1)
    assert conv(Tensor(np.zeros((4, 3, 32, 32), dtype=np.float32))).shape == (4, 8, 32, 32)


def test_conv2d_parameters_and_init():
    conv = Conv2d(3, 8, 5)
    assert conv.weight.shape == (8, 3, 5, 5) and conv.bias.shape == (8,)
    assert len(conv.parameters()) == 2


def test_conv2d_rejects_the_wrong_number_of_channels():
    with pytest.raises(ValueError):
        Conv2d(3, 4, 3)(Tensor(np.zeros((1, 2, 8, 8), dtype=np.float32)))


def test_maxpool_takes_the_window_maximum():
    x = Tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))
    np.testing.assert_array_equal(MaxPool2d(2)(x).data, [[[[5, 7], [13, 15]]]])


@pytest.mark.parametrize("kernel,stride", [(2, 2), (3, 2), (2, 1)])
def test_maxpool_matches_the_definition_on_random_images(rng, kernel, stride):
    x = rng.standard_normal((2, 3, 7, 5)).astype(np.float32)  # taller than wide; the maxima sit at every offset
    out = MaxPool2d(kernel, stride=stride)(Tensor(x)).data
    h_out, w_out = (7 - kernel) // stride + 1, (5 - kernel) // stride + 1
    expected = np.empty((2, 3, h_out, w_out), np.float32)
    for i in range(h_out):
        for j in range(w_out):
            expected[:, :, i, j] = x[:, :, i * stride:i * stride + kernel, j * stride:j * stride + kernel].max(axis=(2, 3))
    np.testing.assert_array_equal(out, expected)


def test_maxpool_sends_a_tied_gradient_to_the_first_maximum_only():
    x = Tensor(np.array([[[[3, 1], [3, 0]], [[2, 2], [2, 2]]]], np.float32).reshape(1, 2, 2, 2), requires_grad=True)
    MaxPool2d(2)(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[1, 0], [0, 0]], [[1, 0], [0, 0]]]])


def test_avgpool_takes_the_window_mean():
    x = Tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))
    np.testing.assert_allclose(AvgPool2d(2)(x).data, [[[[2.5, 4.5], [10.5, 12.5]]]])


def test_batchnorm_normalises_each_channel_in_training(rng):
    x = Tensor((rng.standard_normal((8, 3, 4, 4)) * 5 + 2).astype(np.float32))
    out = BatchNorm2d(3)(x).data
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, rtol=1e-3)


def test_batchnorm_uses_running_statistics_in_eval(rng):
    bn = BatchNorm2d(2)
    bn.running_mean = np.array([1.0, -1.0], dtype=np.float32)
    bn.running_var = np.array([4.0, 1.0], dtype=np.float32)
    bn.eval()
    x = np.ones((1, 2, 1, 1), dtype=np.float32)
    np.testing.assert_allclose(bn(Tensor(x)).data.ravel(), [0.0, 2.0], atol=1e-4)


def test_flatten_keeps_the_batch_dimension():
    assert Flatten()(Tensor(np.zeros((4, 3, 2, 2), dtype=np.float32))).shape == (4, 12)


def test_spatial_layers_keep_float32(rng):
    x = Tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32))
    for layer in (Conv2d(3, 4, 3, rng=rng), MaxPool2d(2), AvgPool2d(2), BatchNorm2d(3)):
        assert layer(x).dtype == np.float32
