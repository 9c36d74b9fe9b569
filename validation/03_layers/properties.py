"""Randomized properties that confirm module 03's equivalent marks (docs/DESIGN.md section 10)."""

import numpy as np

from tinytorch.core.layers import Dropout
from tinytorch.core.tensor import Tensor


def dropout_masks(rng):
    """Dropout in training with random p, shapes, dtypes and generator seeds: outputs, gradients, generator state."""
    p = float(rng.choice([0.1, 0.25, 0.5, 0.9, rng.uniform(0.01, 0.99)]))
    shape = tuple(int(n) for n in rng.integers(1, 7, size=rng.integers(1, 4)))
    dtype = rng.choice([np.float32, np.float64])
    drop = Dropout(p, rng=np.random.default_rng(int(rng.integers(1 << 30))))
    outputs = []
    for _ in range(3):
        x = Tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
        out = drop(x)
        out.sum().backward()
        outputs.append((out.data, x.grad.data))
    return outputs, drop.rng.bit_generator.state["state"]["state"]
