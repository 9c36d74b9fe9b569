"""Randomized properties that confirm module 11's equivalent marks (docs/DESIGN.md section 10)."""

import numpy as np

from tinytorch.core.embeddings import Embedding


def embedding_gradients(rng):
    """Look up ids of any shape (repeats included); the table's gradient accumulates per occurrence."""
    vocab, dim = int(rng.integers(2, 9)), int(rng.integers(1, 6))
    table = Embedding(vocab, dim, rng=np.random.default_rng(int(rng.integers(99))))
    ids = rng.integers(0, vocab, size=tuple(int(n) for n in rng.integers(1, 4, size=rng.integers(0, 3))))
    out = table(ids)
    out.backward(rng.standard_normal(out.shape).astype(out.dtype))
    return out.data, table.weight.grad.data
