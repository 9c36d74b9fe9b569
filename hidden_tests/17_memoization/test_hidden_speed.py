"""Module 17, hidden, timed: cached generation must be much faster than uncached, and near the reference."""

import time

import numpy as np

from tinytorch.core.transformer import GPT
from tinytorch.perf import memoization


def _generate_time(model, prompt, new_tokens, use_cache):
    start = time.perf_counter()
    out = model.generate(prompt, new_tokens, greedy=True, use_cache=use_cache)
    return time.perf_counter() - start, out


def _cached_time_with(module, model, prompt, new_tokens):
    """Time a cached generation with the KVCache of `module` (the student's or the reference)."""
    cache = module.KVCache.for_model(model, batch_size=1)
    tokens = prompt[None, :]
    start = time.perf_counter()
    for _ in range(new_tokens):
        logits = cache.next_logits(model, tokens)
        tokens = np.concatenate([tokens, logits.argmax(-1)[:, None]], axis=1)
    return time.perf_counter() - start


def test_kv_cache_speeds_up_generation_and_keeps_pace_with_the_reference(reference_module, max_ratio, record_metric):
    """Feed only the new token per step; store keys/values in place (no concatenate of the whole cache)."""
    model = GPT(vocab_size=65, embed_dim=96, num_layers=2, num_heads=4, max_seq_len=256,
                rng=np.random.default_rng(0)).eval()
    prompt = np.random.default_rng(1).integers(0, 65, 32)
    _generate_time(model, prompt, 2, use_cache=True)  # warm-up: first-call allocations and imports
    plain_time, plain = _generate_time(model, prompt, 100, use_cache=False)
    cached_time, cached = _generate_time(model, prompt, 100, use_cache=True)
    np.testing.assert_array_equal(cached, plain)
    speedup = plain_time / cached_time
    record_metric("kv_cache_speedup", speedup)
    assert speedup >= 3.0, f"the cache makes 100-token generation only {speedup:.1f}x faster (expected >= 3x)"

    reference = reference_module("tinytorch.perf.memoization")
    ratios = []
    for _ in range(3):
        ours = _cached_time_with(memoization, model, prompt, 60)
        theirs = _cached_time_with(reference, model, prompt, 60)
        ratios.append(ours / theirs)
    ratio = float(np.median(ratios))
    assert ratio <= max_ratio, f"your cached generation takes {ratio:.1f}x the reference's time (limit {max_ratio}x)"
