"""Randomized properties that confirm module 12's equivalent marks (docs/DESIGN.md section 10)."""

import numpy as np

from tinytorch.core.attention import scaled_dot_product_attention
from tinytorch.core.tensor import Tensor


def masked_attention(rng):
    """Attention with random boolean masks (whole rows kept, a few hidden), outputs, weights and gradients."""
    batch = tuple(int(n) for n in rng.integers(1, 3, size=rng.integers(0, 3)))
    t_q, t_k, d = (int(n) for n in rng.integers(1, 7, size=3))
    dtype = rng.choice([np.float32, np.float64])
    q, k, v = (Tensor((rng.standard_normal(batch + shape) * rng.choice([0.1, 1.0, 4.0])).astype(dtype), requires_grad=True)
               for shape in ((t_q, d), (t_k, d), (t_k, d)))
    mask = rng.random((t_q, t_k)) < 0.7
    mask[:, 0] = True  # every query sees at least one key
    out, weights = scaled_dot_product_attention(q, k, v, mask if rng.random() < 0.5 else Tensor(mask.astype(dtype)))
    out.backward(rng.standard_normal(out.shape).astype(out.dtype))
    return out.data, weights.data, q.grad.data, k.grad.data, v.grad.data
