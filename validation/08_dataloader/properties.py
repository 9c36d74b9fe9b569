"""Randomized properties that confirm module 08's equivalent marks (docs/DESIGN.md section 10)."""

import io
import pickle

import numpy as np

from tinytorch.core.dataloader import RandomCrop, RandomHorizontalFlip, read_cifar_batch


def _batch(rng):
    shape = (int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(2, 9)), int(rng.integers(2, 9)))
    return (rng.standard_normal(shape) * 10).astype(rng.choice([np.float32, np.uint8]))


def flips(rng):
    """RandomHorizontalFlip with random p (0 and 1 included) on random batches, three calls per generator."""
    flip = RandomHorizontalFlip(p=float(rng.choice([0.0, 1.0, 0.5, rng.uniform()])), rng=int(rng.integers(1 << 30)))
    return [flip(_batch(rng)) for _ in range(3)]


def crops(rng):
    """RandomCrop of random sizes and paddings (0 included) on random batches, three calls per generator."""
    batch = _batch(rng)
    size = (int(rng.integers(1, batch.shape[2] + 1)), int(rng.integers(1, batch.shape[3] + 1)))
    crop = RandomCrop(size, padding=int(rng.integers(0, 4)), rng=int(rng.integers(1 << 30)))
    return [crop(batch), crop(batch[: max(1, batch.shape[0] - 1)]), crop(batch)]


def cifar_batches(rng):
    """A pickled CIFAR-10 batch of random size and content, read back."""
    n = int(rng.integers(1, 12))
    data = rng.integers(0, 256, size=(n, 3072)).astype(np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, n)]
    buffer = io.BytesIO()
    pickle.dump({b"data": data, b"labels": labels, b"batch_label": b"random"}, buffer, protocol=4)
    images, read_labels = read_cifar_batch(buffer.getvalue())
    return images, read_labels
