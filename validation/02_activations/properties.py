"""Randomized properties that confirm module 02's equivalent marks (docs/DESIGN.md section 10).

Each function draws its own shapes, dtypes and inputs from ``rng`` and returns what a test
could observe; make validate compares the reference's and the mutant's observations bit for bit.
"""

import numpy as np

from tinytorch.core.activations import Sigmoid
from tinytorch.core.tensor import Tensor


def sigmoid_values_and_gradient(rng):
    """Sigmoid on random shapes and dtypes, with exact zeros, -0.0, huge and tiny values mixed in."""
    shape = tuple(int(n) for n in rng.integers(1, 6, size=rng.integers(1, 4)))
    dtype = rng.choice([np.float32, np.float64])
    x = (rng.standard_normal(shape) * rng.choice([1e-3, 1.0, 30.0, 1e3])).astype(dtype)
    special = np.array([0.0, -0.0, 1e-40, -1e-40, 88.0, -88.0, 800.0, -800.0], dtype=dtype)
    flat = x.reshape(-1)
    picks = rng.integers(0, flat.size, size=min(flat.size, 4))
    flat[picks] = rng.choice(special, size=picks.size)
    tensor = Tensor(x, requires_grad=True)
    out = Sigmoid()(tensor)
    weights = Tensor(rng.standard_normal(shape).astype(dtype))
    (out * weights).sum().backward()
    return out.data, out.dtype.str, tensor.grad.data
