"""Randomized properties that confirm module 17's equivalent marks (docs/DESIGN.md section 10)."""

import numpy as np

from tinytorch.core.transformer import GPT
from tinytorch.perf.memoization import KVCache


def logits_at_and_past_the_window(rng):
    """next_logits for sequences that grow through max_len (exactly full, then sliding), from random models."""
    max_len = int(rng.integers(2, 7))
    model = GPT(vocab_size=int(rng.integers(3, 12)), embed_dim=8, num_layers=int(rng.integers(1, 3)), num_heads=2,
                max_seq_len=max_len, rng=np.random.default_rng(int(rng.integers(1 << 30)))).eval()
    cache = KVCache.for_model(model, batch_size=1)
    tokens = rng.integers(0, 3, size=(1, int(rng.integers(1, max_len + 1))))
    seen = []
    for _ in range(max_len + 3):
        logits = cache.next_logits(model, tokens)
        seen.append(logits)
        tokens = np.concatenate([tokens, logits.argmax(-1)[:, None]], axis=1)
    return seen
