"""Randomized properties that confirm module 09's equivalent marks (docs/DESIGN.md section 10).

Random batch sizes, channels, image sizes, kernels, strides and paddings; forward values in
training and evaluation, and every gradient.
"""

import numpy as np

from tinytorch.core.spatial import AvgPool2d, BatchNorm2d, Conv2d, MaxPool2d, col2im
from tinytorch.core.tensor import Tensor


def _images(rng, channels=None):
    n, c = int(rng.integers(1, 4)), channels or int(rng.integers(1, 4))
    h, w = int(rng.integers(3, 8)), int(rng.integers(3, 8))
    return rng.standard_normal((n, c, h, w)).astype(rng.choice([np.float32, np.float64]))


def batchnorm_train_and_eval(rng):
    """BatchNorm2d: two training steps (values, gradients, running statistics), then evaluation."""
    x = _images(rng)
    norm = BatchNorm2d(x.shape[1], momentum=float(rng.choice([0.1, 0.5])))
    norm.gamma = Tensor(rng.standard_normal(x.shape[1]).astype(np.float32), requires_grad=True)
    norm.beta = Tensor(rng.standard_normal(x.shape[1]).astype(np.float32), requires_grad=True)
    seen = []
    for _ in range(2):
        tensor = Tensor(x, requires_grad=True)
        out = norm(tensor)
        out.backward(rng.standard_normal(out.shape).astype(out.dtype))
        seen.append((out.data, tensor.grad.data, norm.gamma.grad.data, norm.beta.grad.data))
        norm.gamma.grad = norm.beta.grad = None
        x = _images(rng, x.shape[1]).astype(x.dtype)
    norm.eval()
    tensor = Tensor(x, requires_grad=True)
    out = norm(tensor)
    out.backward(rng.standard_normal(out.shape).astype(out.dtype))
    return seen, out.data, tensor.grad.data, norm.gamma.grad.data, norm.running_mean, norm.running_var


def _pool_values_and_gradient(rng, pool_class):
    """A pool of random kernel and stride (overlapping windows included): values, dtype, gradient."""
    x = _images(rng)
    kernel = int(rng.integers(1, min(x.shape[2:]) + 1))
    pool = pool_class(kernel, stride=int(rng.integers(1, kernel + 1)))
    tensor = Tensor(x, requires_grad=True)
    out = pool(tensor)
    out.backward(rng.standard_normal(out.shape).astype(out.dtype))
    return out.data, out.dtype.str, tensor.grad.data


def avgpool_values_and_gradient(rng):
    return _pool_values_and_gradient(rng, AvgPool2d)


def maxpool_values_and_gradient(rng):
    """MaxPool2d with random kernels and strides (overlapping windows included): values and gradient."""
    return _pool_values_and_gradient(rng, MaxPool2d)


def col2im_sums(rng):
    """col2im of random column gradients for random kernels, strides and paddings."""
    n, c = (int(v) for v in rng.integers(1, 4, size=2))
    h, w = (int(v) for v in rng.integers(3, 8, size=2))
    kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    stride, padding = int(rng.integers(1, 3)), int(rng.integers(0, 3))
    h_out, w_out = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    if h_out < 1 or w_out < 1:
        kh = kw = 1
        h_out, w_out = (h + 2 * padding - 1) // stride + 1, (w + 2 * padding - 1) // stride + 1
    cols = rng.standard_normal((n, h_out, w_out, kh, kw, c)).astype(np.float32)
    return col2im(cols, (n, c, h, w), (kh, kw), stride, padding)


def conv_gradients(rng):
    x = _images(rng)
    kernel = int(rng.integers(1, 4))
    conv = Conv2d(x.shape[1], int(rng.integers(1, 4)), kernel, stride=int(rng.integers(1, 3)),
                  padding=int(rng.integers(0, 2)), bias=bool(rng.integers(0, 2)), rng=np.random.default_rng(int(rng.integers(99))))
    tensor = Tensor(x, requires_grad=True)
    out = conv(tensor)
    out.backward(rng.standard_normal(out.shape).astype(out.dtype))
    return out.data, tensor.grad.data, conv.weight.grad.data, None if conv.bias is None else conv.bias.grad.data
