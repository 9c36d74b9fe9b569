"""Randomized properties that confirm module 05's equivalent marks (docs/DESIGN.md section 10).

Each draws shapes (including size-1 and broadcast axes), dtypes and upstream gradients, runs the
public Tensor API forward and backward, and returns every gradient.
"""

import numpy as np

from tinytorch.core.tensor import Tensor


def _shape(rng, ndim_low=0, ndim_high=4):
    return tuple(int(n) for n in rng.integers(1, 5, size=rng.integers(ndim_low, ndim_high + 1)))


def _dtype(rng):
    return rng.choice([np.float32, np.float64])


def mean_gradients(rng):
    """Tensor.mean over None, one axis, negative axes or a tuple, with or without keepdims."""
    shape = _shape(rng, 1, 4)
    x = Tensor(rng.standard_normal(shape).astype(_dtype(rng)), requires_grad=True)
    choice = int(rng.integers(0, 4))
    axis = [None, int(rng.integers(-len(shape), len(shape))), tuple(range(len(shape))),
            tuple(sorted({int(a) for a in rng.integers(0, len(shape), size=2)}))][choice]
    out = x.mean(axis=axis, keepdims=bool(rng.integers(0, 2)))
    out.backward(rng.standard_normal(out.shape).astype(out.dtype))
    return out.data, x.grad.data, x.grad.dtype.str


def broadcast_gradients(rng):
    """+, -, *, / between tensors whose shapes broadcast (leading and size-1 axes), gradients of both."""
    full = _shape(rng, 0, 4)
    a_shape = tuple(1 if rng.random() < 0.3 else n for n in full)
    b_shape = tuple(1 if rng.random() < 0.3 else n for n in full[int(rng.integers(0, len(full) + 1)):])
    dtype = _dtype(rng)
    a = Tensor(rng.standard_normal(a_shape).astype(dtype), requires_grad=True)
    b = Tensor((rng.standard_normal(b_shape) + 3).astype(dtype), requires_grad=True)
    op = int(rng.integers(0, 4))
    out = [a + b, a - b, a * b, a / b][op]
    out.backward(rng.standard_normal(out.shape).astype(out.dtype))
    return out.data, a.grad.data, b.grad.data, a.grad.shape, b.grad.shape


def seed_gradient(rng):
    """backward() of a one-element root with no gradient, and with an explicit one (which must not change)."""
    dtype = _dtype(rng)
    x = Tensor(rng.standard_normal(_shape(rng, 0, 3)).astype(dtype), requires_grad=True)
    (x * x).sum().backward()
    first = x.grad.data.copy()
    y = Tensor(rng.standard_normal(_shape(rng, 1, 3)).astype(dtype), requires_grad=True)
    out = y * 2.0
    upstream = rng.standard_normal(out.shape).astype(dtype)
    kept = upstream.copy()
    out.backward(upstream)
    return first, y.grad.data, bool(np.array_equal(upstream, kept)), y.grad.dtype.str


def matmul_gradients(rng):
    """a @ b for vector-matrix, matrix-vector, 2-D and batched operands (broadcast batch axes), both gradients."""
    k, n, m = (int(v) for v in rng.integers(1, 5, size=3))
    kind = int(rng.integers(0, 5))
    batch_a = _shape(rng, 0, 2)
    batch_b = tuple(1 if rng.random() < 0.4 else s for s in batch_a)[int(rng.integers(0, len(batch_a) + 1)):]
    # (k,) @ (k,) is left out: its backward raises AxisError in the reference (reported to the module owner)
    shapes = [((k,), (k, m)), ((n, k), (k,)), ((n, k), (k, m)),
              (batch_a + (n, k), (k, m)), (batch_a + (n, k), batch_b + (k, m))][kind]
    dtype = _dtype(rng)
    a = Tensor(rng.standard_normal(shapes[0]).astype(dtype), requires_grad=True)
    b = Tensor(rng.standard_normal(shapes[1]).astype(dtype), requires_grad=True)
    out = a @ b
    out.backward(rng.standard_normal(out.shape).astype(out.dtype))
    return out.data, a.grad.data, b.grad.data, a.grad.shape, b.grad.shape
