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


def pruned_conv_models(rng):
    """prune_channels on a random Conv2d -> BatchNorm2d -> Conv2d model: the shrunk weights and the output."""
    from tinytorch.core.layers import Sequential
    from tinytorch.core.spatial import BatchNorm2d
    from tinytorch.core.tensor import Tensor
    from tinytorch.perf.compression import prune_channels

    seed = np.random.default_rng(int(rng.integers(1 << 30)))
    width = int(rng.integers(2, 6))
    model = Sequential(Conv2d(int(rng.integers(1, 3)), width, 3, padding=1, rng=seed), BatchNorm2d(width),
                       Conv2d(width, int(rng.integers(1, 4)), 3, rng=seed))
    keep = prune_channels(model, 0, float(rng.uniform(0, 0.9)))
    model.eval()
    x = Tensor(rng.standard_normal((2, model.layers[0].in_channels, 5, 5)).astype(np.float32))
    return keep, [layer.weight.data for layer in (model.layers[0], model.layers[2])], model(x).data
