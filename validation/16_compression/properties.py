"""Randomized properties that confirm module 16's equivalent marks (docs/DESIGN.md section 10)."""

import numpy as np

from tinytorch.core.layers import Linear
from tinytorch.core.spatial import Conv2d
from tinytorch.perf.compression import channel_norms, keep_mask


def keep_masks(rng):
    """keep_mask for amounts 0, tiny (rounding to 0 weights), random and near 1, on random shapes."""
    shape = tuple(int(n) for n in rng.integers(1, 6, size=rng.integers(1, 4)))
    magnitudes = np.abs(rng.standard_normal(shape))
    amount = float(rng.choice([0.0, 1e-3, rng.uniform(0, 1), 0.99]))
    return keep_mask(magnitudes, amount)


def norms_of_channels(rng):
    """channel_norms of random Linear and Conv2d layers."""
    seed = np.random.default_rng(int(rng.integers(1 << 30)))
    kernel = int(rng.integers(1, 4))
    layer = (Linear(int(rng.integers(1, 6)), int(rng.integers(1, 6)), rng=seed) if rng.random() < 0.5
             else Conv2d(int(rng.integers(1, 4)), int(rng.integers(1, 5)), kernel, rng=seed))
    return channel_norms(layer)
