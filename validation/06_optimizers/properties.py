"""Randomized properties that confirm module 06's equivalent marks (docs/DESIGN.md section 10)."""

import numpy as np

from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor


def adam_updates(rng):
    """Several Adam steps on float32 and float64 parameters with random gradients and hyperparameters."""
    params = [Tensor(rng.standard_normal(tuple(int(n) for n in rng.integers(1, 5, size=rng.integers(1, 3))))
                     .astype(rng.choice([np.float32, np.float64])), requires_grad=True) for _ in range(3)]
    views = [p.data for p in params]
    optimizer = Adam(params, lr=float(rng.uniform(1e-4, 0.1)), weight_decay=float(rng.choice([0.0, 0.01])))
    for _ in range(4):
        for p in params:
            p.grad = Tensor(rng.standard_normal(p.shape).astype(p.dtype))
        optimizer.step()
    return [p.data for p in params], [p.data.dtype.str for p in params], [v is p.data for v, p in zip(views, params)]
