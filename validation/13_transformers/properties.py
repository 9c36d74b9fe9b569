"""Randomized properties that confirm module 13's equivalent marks (docs/DESIGN.md section 10)."""

import numpy as np

from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import LayerNorm, next_tokens


def sampled_tokens(rng):
    """next_tokens on (B, vocab) logits: greedy, temperatures, top_k None / 1 / below / equal to / above vocab."""
    batch, vocab = int(rng.integers(1, 5)), int(rng.integers(2, 9))
    logits = (rng.standard_normal((batch, vocab)) * rng.choice([0.5, 3.0])).astype(rng.choice([np.float32, np.float64]))
    top_k = rng.choice([None, 1, max(1, vocab - 1), vocab, vocab + 2])
    seed = int(rng.integers(1 << 30))
    picks = [next_tokens(logits, float(t), top_k, greedy, np.random.default_rng(seed))
             for t in (1.0, 0.7, 2.0) for greedy in (False, True)]
    return picks


def layernorm_gradients(rng):
    """LayerNorm over (..., D) inputs with 1 to 3 leading axes: output and the gradients of x, gamma, beta."""
    shape = tuple(int(n) for n in rng.integers(1, 4, size=rng.integers(1, 4))) + (int(rng.integers(2, 6)),)
    norm = LayerNorm(shape[-1])
    norm.gamma = Tensor(rng.standard_normal(shape[-1]).astype(np.float32), requires_grad=True)
    norm.beta = Tensor(rng.standard_normal(shape[-1]).astype(np.float32), requires_grad=True)
    x = Tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
    out = norm(x)
    out.backward(rng.standard_normal(shape).astype(np.float32))
    return out.data, x.grad.data, norm.gamma.grad.data, norm.beta.grad.data
