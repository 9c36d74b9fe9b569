"""Module 12: attention, every position reading from every other position it may see.

softmax(Q Kᵀ / √d) V for all heads at once: queries, keys and values are (B, H, T, d)
tensors and each step is one batched matmul, so there is no Python loop over heads or
positions. Masks say which keys each query may attend to: a causal mask hides the future,
a padding mask hides padding tokens.

Systems point: the score matrix is (B, H, T, T): memory and FLOPs grow with the square of
the sequence length. That quadratic term is why long contexts are expensive, and what
KV-caching (module 17) and fused attention kernels attack.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.activations import softmax
from tinytorch.core.layers import Layer, Linear
from tinytorch.core.tensor import Tensor

MASK_VALUE = -1e9  # added to masked scores: exp underflows to exactly 0 after the max shift


def causal_mask(seq_len: int) -> np.ndarray:
    """(T, T) boolean, True where query t may see key s (s <= t)."""
    return np.tril(np.ones((seq_len, seq_len), dtype=bool))


def scaled_dot_product_attention(Q: Tensor, K: Tensor, V: Tensor, mask=None) -> tuple[Tensor, Tensor]:
    """Attention over the last two axes.

    Shapes: Q (..., T_q, d), K (..., T_k, d), V (..., T_k, d_v) -> output (..., T_q, d_v) and
    weights (..., T_q, T_k). ``mask`` (broadcastable to the weights): True/1 = attend, False/0 = hide.
    Fully tracked: matmul, scaling, masking and softmax are autograd ops.
    """
    #% solution kind="vectorized" hint="scores = Q @ Kᵀ / sqrt(d); where the mask is False add MASK_VALUE (a constant Tensor); weights = softmax over the last axis; output = weights @ V."
    d = Q.shape[-1]
    scores = Q @ K.transpose(-1, -2) * (1.0 / np.sqrt(d))
    if mask is not None:
        keep = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
        scores = scores + Tensor(np.where(keep.astype(bool), 0.0, MASK_VALUE).astype(scores.dtype))
    weights = softmax(scores, dim=-1)
    return weights @ V, weights
    #% endsolution


class MultiHeadAttention(Layer):
    """Self-attention with ``num_heads`` heads of size embed_dim // num_heads. x: (B, T, D) -> (B, T, D).

    Parameters: four D x D projections (queries, keys, values, output) = 4·D² + 4·D.
    """

    def __init__(self, embed_dim: int, num_heads: int, rng: np.random.Generator | None = None):
        rng = rng if rng is not None else np.random.default_rng()
        #% solution hint="Refuse an embed_dim not divisible by num_heads (ValueError); head_dim = embed_dim // num_heads; four Linear(embed_dim, embed_dim) projections q_proj, k_proj, v_proj, out_proj."
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (Linear(embed_dim, embed_dim, rng=rng) for _ in range(4))
        #% endsolution

    def split_heads(self, x: Tensor) -> Tensor:
        """(B, T, D) -> (B, H, T, d): a reshape and a transpose, no copy of per-head data in Python."""
        #% solution
        batch, seq_len, _ = x.shape
        return x.reshape(batch, seq_len, self.num_heads, self.head_dim).transpose(1, 2)
        #% endsolution

    def merge_heads(self, x: Tensor) -> Tensor:
        """(B, H, T, d) -> (B, T, D)."""
        #% solution
        batch, _, seq_len, _ = x.shape
        return x.transpose(1, 2).reshape(batch, seq_len, self.embed_dim)
        #% endsolution

    def forward(self, x: Tensor, mask=None, causal: bool = False) -> Tensor:
        if causal:
            mask = causal_mask(x.shape[1]) if mask is None else np.logical_and(mask, causal_mask(x.shape[1]))
        #% solution hint="Refuse input that is not (B, T, embed_dim) (ValueError); project x to Q, K, V, split heads, attend (the mask broadcasts over batch and heads), merge heads, project out."
        if x.ndim != 3 or x.shape[-1] != self.embed_dim:
            raise ValueError(f"MultiHeadAttention expects (batch, seq, {self.embed_dim}), got {x.shape}")
        q, k, v = (self.split_heads(proj(x)) for proj in (self.q_proj, self.k_proj, self.v_proj))
        out, _ = scaled_dot_product_attention(q, k, v, mask)
        return self.out_proj(self.merge_heads(out))
        #% endsolution

    def __repr__(self) -> str:
        return f"MultiHeadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"
