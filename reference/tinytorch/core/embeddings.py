"""Module 11: embeddings, learned vectors for token ids, and position information.

An ``Embedding`` is a (vocab_size, embed_dim) table; looking up ids is a gather, and its
gradient is a scatter-add: every occurrence of an id adds its gradient into that id's row.
Attention is blind to order, so a position signal is added: learned (one trainable vector
per position) or sinusoidal (fixed waves of different frequencies, no parameters).

Systems point: the table is often the largest single parameter of a language model
(vocab_size · embed_dim floats), yet a batch touches only the rows of the ids it contains;
the scatter-add gradient is dense here for simplicity.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.autograd import Function
from tinytorch.core.layers import Layer
from tinytorch.core.tensor import Tensor


def _ids(tokens) -> np.ndarray:
    """Token ids as an integer array (from a Tensor, list or array); floats are refused with a TypeError."""
    #% solution hint="Unwrap a Tensor, np.asarray anything else, and raise TypeError unless the dtype kind is 'i' or 'u'."
    ids = tokens.data if isinstance(tokens, Tensor) else np.asarray(tokens)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"token ids must be integers, got dtype {ids.dtype}")
    return ids
    #% endsolution


class EmbeddingBackward(Function):
    """Scatter-add the output gradient into the rows of the looked-up ids (repeats accumulate)."""

    @staticmethod
    def backward(ctx, grad):
        #% solution hint="zeros like the table; np.add.at(table_grad, ids, grad) adds once per occurrence."
        weight, ids = ctx.parents[0], ctx.saved["ids"]
        table_grad = np.zeros(weight.shape, dtype=grad.dtype)
        np.add.at(table_grad, ids.reshape(-1), grad.reshape(-1, weight.shape[1]))
        return (table_grad,)
        #% endsolution


class Embedding(Layer):
    """Token ids (any shape) -> vectors (same shape + (embed_dim,)).

    The table starts as N(0, 0.02²), GPT-2's choice, so early logits are small.
    """

    def __init__(self, vocab_size: int, embed_dim: int, rng: np.random.Generator | None = None):
        rng = rng if rng is not None else np.random.default_rng()
        self.vocab_size, self.embed_dim = vocab_size, embed_dim
        self.weight = Tensor(rng.standard_normal((vocab_size, embed_dim), dtype=np.float32) * np.float32(0.02),
                             requires_grad=True)

    def forward(self, tokens) -> Tensor:
        ids = _ids(tokens)
        #% solution hint="Check the ids are in [0, vocab_size) (ValueError); gather rows with weight.data[ids]; save ids."
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"token ids must be in [0, {self.vocab_size}), got values from {ids.min()} to {ids.max()}")
        return Tensor._make(self.weight.data[ids], EmbeddingBackward, self.weight, ids=ids)
        #% endsolution

    def __repr__(self) -> str:
        return f"Embedding({self.vocab_size}, {self.embed_dim})"


class PositionalEncoding(Layer):
    """Learned positions: adds row t of a (max_seq_len, embed_dim) table to position t. x: (B, T, D)."""

    def __init__(self, max_seq_len: int, embed_dim: int, rng: np.random.Generator | None = None):
        self.max_seq_len = max_seq_len
        self.embedding = Embedding(max_seq_len, embed_dim, rng=rng)

    def forward(self, x: Tensor) -> Tensor:
        seq_len = x.shape[-2]
        #% solution hint="Refuse sequences longer than max_seq_len; add self.embedding(arange(T)) (broadcast over the batch)."
        if seq_len > self.max_seq_len:
            raise ValueError(f"sequence length {seq_len} exceeds max_seq_len {self.max_seq_len}")
        return x + self.embedding(np.arange(seq_len))
        #% endsolution


def create_sinusoidal_embeddings(max_seq_len: int, embed_dim: int) -> Tensor:
    """(max_seq_len, embed_dim): sin on even columns, cos on odd, wavelengths 2π … 10000·2π."""
    #% solution hint="angle[t, i] = t / 10000^(2⌊i/2⌋/D); sin for even i, cos for odd i; float32."
    positions = np.arange(max_seq_len, dtype=np.float64)[:, None]
    rates = 1.0 / 10000 ** (2 * (np.arange(embed_dim) // 2) / embed_dim)
    angles = positions * rates[None, :]
    table = np.where(np.arange(embed_dim) % 2 == 0, np.sin(angles), np.cos(angles))
    return Tensor(table.astype(np.float32))
    #% endsolution


class SinusoidalPositionalEncoding(Layer):
    """Fixed sinusoidal positions added to x: (B, T, D); no parameters, works for any T <= max_seq_len."""

    def __init__(self, max_seq_len: int, embed_dim: int):
        self.table = create_sinusoidal_embeddings(max_seq_len, embed_dim)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2] > self.table.shape[0]:
            raise ValueError(f"sequence length {x.shape[-2]} exceeds max_seq_len {self.table.shape[0]}")
        return x + Tensor(self.table.data[: x.shape[-2]].astype(x.dtype, copy=False))
