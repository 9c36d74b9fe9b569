"""Module 17: memoization, the KV-cache that makes autoregressive generation linear.

Without a cache, generating token t runs the whole model over all t tokens again, although
the keys and values of positions 0..t-1 have not changed: generating n tokens costs O(n²)
token-forwards (and O(n³) attention FLOPs). A KV-cache stores every layer's keys and values
once computed; each new token then costs one token-forward plus attention over the cached
keys: O(n) token-forwards in all.

Systems point: speed is bought with memory. The cache holds 2 · layers · batch · heads ·
max_len · head_dim floats (K and V), allocated once up front so that a step never copies it.
For a GPT-2-small-sized model at 1024 tokens that is 2·12·12·1024·64·4 B = 75 MB per sequence.

``GPT.generate(..., use_cache=True)`` (module 13) drives a ``KVCache`` through
``next_logits``; the greedy output is identical with and without the cache.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.attention import MultiHeadAttention, scaled_dot_product_attention
from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor


class KVCache:
    """Preallocated keys and values for every layer: each (B, H, max_len, head_dim).

    ``length`` counts the positions already stored; positions ``[0, length)`` are valid.
    """

    def __init__(self, num_layers: int, batch_size: int, num_heads: int, head_dim: int, max_len: int,
                 dtype=np.float32):
        #% solution hint="Two zero arrays of shape (num_layers, batch_size, num_heads, max_len, head_dim), keys and values; length = 0; remember max_len."
        shape = (num_layers, batch_size, num_heads, max_len, head_dim)
        self.keys = np.zeros(shape, dtype=dtype)
        self.values = np.zeros(shape, dtype=dtype)
        self.max_len = max_len
        self.length = 0
        #% endsolution

    @classmethod
    def for_model(cls, model, batch_size: int) -> KVCache:
        """A cache sized for a module-13 GPT: one slot per layer, max_seq_len positions."""
        attention = model.blocks[0].attention
        return cls(len(model.blocks), batch_size, attention.num_heads, attention.head_dim, model.max_seq_len)

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.values.nbytes

    def reset(self) -> None:
        """Forget every stored position (the arrays are reused, not reallocated)."""
        self.length = 0

    def append(self, layer: int, k: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Store (B, H, t, d) keys/values of the next t positions of ``layer``; return all (B, H, length + t, d).

        The returned arrays are views of the cache (no copy). ``length`` itself moves on only in
        ``advance``, once every layer has stored its t positions.
        """
        #% solution kind="in-place" hint="Refuse to go past max_len (ValueError naming the lengths); write k and v at positions [length, length + t) of this layer; return views of positions [0, length + t)."
        end = self.length + k.shape[2]
        if end > self.max_len:
            raise ValueError(f"KV-cache holds {self.max_len} positions; {self.length} stored + {k.shape[2]} new "
                             f"do not fit (reset the cache or start a new one)")
        self.keys[layer, :, :, self.length:end] = k
        self.values[layer, :, :, self.length:end] = v
        return self.keys[layer, :, :, :end], self.values[layer, :, :, :end]
        #% endsolution

    def advance(self, num_positions: int) -> None:
        self.length += num_positions

    def next_logits(self, model, tokens: np.ndarray) -> np.ndarray:
        """(B, vocab) logits for the token after ``tokens`` (B, T), running the model only on what is new.

        The cache holds the first ``length`` positions of ``tokens``; only tokens[:, length:] are fed.
        When the model's context window is full, the window slides: every position moves, so the
        cache is refilled from the last max_seq_len tokens (exactly what the uncached model sees).
        """
        #% solution hint="If tokens are longer than max_len, reset and keep only the last max_len tokens; feed tokens[:, length:] through cached_forward; return the last position's logits."
        if tokens.shape[1] > self.max_len:
            self.reset()
            tokens = tokens[:, -self.max_len:]
        return cached_forward(model, tokens[:, self.length:], self)[:, -1, :]
        #% endsolution


def cached_attention(attention: MultiHeadAttention, x: Tensor, cache: KVCache, layer: int) -> Tensor:
    """Self-attention of t new positions x (B, t, D) over the cached ones and themselves -> (B, t, D).

    The new query at absolute position p may see keys 0..p: the mask is (t, length + t).
    Cost per step: 4·D² per new token for the projections and length·D for attention, instead
    of redoing all positions.
    """
    #% solution hint="Project x to q, k, v and split heads; append k, v to the cache; mask[i, s] = s <= length + i; attend q over all cached keys/values; merge heads; out_proj."
    q, k, v = (attention.split_heads(proj(x)) for proj in (attention.q_proj, attention.k_proj, attention.v_proj))
    keys, values = cache.append(layer, k.data, v.data)
    new, total = x.shape[1], keys.shape[2]
    mask = np.arange(total)[None, :] <= (total - new + np.arange(new))[:, None]
    out, _ = scaled_dot_product_attention(q, Tensor(keys), Tensor(values), mask)
    return attention.out_proj(attention.merge_heads(out))
    #% endsolution


def cached_forward(model, new_tokens: np.ndarray, cache: KVCache) -> np.ndarray:
    """Logits (B, t, vocab) of t new tokens (B, t) that follow the ``cache.length`` cached ones.

    Same computation as ``GPT.forward`` on the whole sequence, restricted to the new rows:
    positions continue from ``cache.length``; each block's attention reads the cache.
    """
    #% solution hint="x = token embedding + position embedding of arange(length, length + t); per block: x + cached_attention(ln1(x)), then x + mlp(ln2(x)); advance the cache by t; final LayerNorm and lm_head; return the NumPy logits. Run under no_grad."
    with no_grad():
        start, new = cache.length, new_tokens.shape[1]
        x = model.token_embedding(new_tokens) + model.position_embedding(np.arange(start, start + new))
        for layer, block in enumerate(model.blocks):
            x = x + cached_attention(block.attention, block.ln1(x), cache, layer)
            x = x + block.mlp(block.ln2(x))
        cache.advance(new)
        return model.lm_head(model.ln_f(x)).data
    #% endsolution
