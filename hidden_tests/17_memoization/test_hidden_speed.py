"""Module 17, hidden, timed: the cache's speedup against the reference cache's speedup, in the same run.

No absolute speedup is asked (a loaded machine measured the reference itself at 2.5x where 3x
was once required): each test times the student's cache and the reference's on the same model,
alternating, and compares them.

- A long prompt (256 tokens, 64 new, 2 layers of width 128): generation without a cache is
  far slower than with the reference cache, so a cache that recomputes every position each
  step falls more than 3x the limit behind the reference's speedup.
- A long cache (4 layers, 4096 positions, short prompt): writing the new positions in place
  costs nothing, while rebuilding the cache by concatenation copies megabytes per step
  (measured 11x to 23x).
"""

import time

import numpy as np

from tinytorch.core import transformer
from tinytorch.perf import memoization


def _gpt(module, embed_dim, num_layers, max_seq_len):
    """A GPT of ``module`` (the student's transformer or the reference's): each cache times a model of its own side."""
    return module.GPT(vocab_size=65, embed_dim=embed_dim, num_layers=num_layers, num_heads=4, max_seq_len=max_seq_len,
               rng=np.random.default_rng(0)).eval()


def _cached_time(module, model, prompt, new_tokens):
    """Seconds for greedy generation with the KVCache of ``module`` (the student's or the reference), and the tokens."""
    cache = module.KVCache.for_model(model, batch_size=1)
    tokens = prompt[None, :]
    start = time.perf_counter()
    for _ in range(new_tokens):
        logits = np.asarray(cache.next_logits(model, tokens))
        tokens = np.concatenate([tokens, logits.argmax(-1)[:, None]], axis=1)
    return time.perf_counter() - start, tokens


def _uncached_time(model, prompt, new_tokens):
    """Seconds for the same greedy generation, the whole sequence through the model at every step."""
    tokens = prompt[None, :]
    start = time.perf_counter()
    for _ in range(new_tokens):
        logits = np.asarray(model(tokens).data)[:, -1]
        tokens = np.concatenate([tokens, logits.argmax(-1)[:, None]], axis=1)
    return time.perf_counter() - start, tokens


def test_the_cache_speedup_keeps_pace_with_the_reference_speedup(reference_module, max_ratio, record_metric):
    """Feed only the new token per step and attend over the stored keys and values."""
    reference = reference_module("tinytorch.perf.memoization")
    model = _gpt(transformer, embed_dim=128, num_layers=2, max_seq_len=512)
    reference_transformer = reference_module("tinytorch.core.transformer")
    reference_model = _gpt(reference_transformer, embed_dim=128, num_layers=2, max_seq_len=512)
    prompt = np.random.default_rng(1).integers(0, 65, 256)
    _cached_time(memoization, model, prompt, 2), _cached_time(reference, reference_model, prompt, 2)  # warm-up
    ours, theirs, plain = [], [], []
    for _ in range(3):  # alternate, so machine noise hits all three alike
        seconds, plain_tokens = _uncached_time(model, prompt, 64)
        plain.append(seconds)
        seconds, cached_tokens = _cached_time(memoization, model, prompt, 64)
        ours.append(seconds)
        theirs.append(_cached_time(reference, reference_model, prompt, 64)[0])
        np.testing.assert_array_equal(cached_tokens, plain_tokens)
    speedup = min(plain) / min(ours)  # fastest runs: on a loaded machine they measure the code, not the load
    reference_speedup = min(plain) / min(theirs)
    record_metric("kv_cache_speedup", speedup)
    record_metric("kv_cache_reference_speedup", reference_speedup)
    assert speedup * max_ratio >= reference_speedup, (
        f"your cache makes 64-token generation {speedup:.1f}x faster; the reference cache, in the same run, "
        f"{reference_speedup:.1f}x (yours may be at most {max_ratio}x behind)")


def test_steps_with_a_long_cache_are_within_the_ratio_of_the_reference(reference_module, max_ratio, record_metric):
    """Write new keys and values into the preallocated arrays; never copy or concatenate the whole cache."""
    reference = reference_module("tinytorch.perf.memoization")
    model = _gpt(transformer, embed_dim=128, num_layers=4, max_seq_len=4096)
    reference_transformer = reference_module("tinytorch.core.transformer")
    reference_model = _gpt(reference_transformer, embed_dim=128, num_layers=4, max_seq_len=4096)
    prompt = np.random.default_rng(2).integers(0, 65, 16)
    _cached_time(memoization, model, prompt, 2), _cached_time(reference, reference_model, prompt, 2)  # warm-up
    ours, theirs = [], []
    for _ in range(5):  # alternate; compare the fastest runs (the ones the machine's load did not interrupt)
        ours.append(_cached_time(memoization, model, prompt, 30)[0])
        theirs.append(_cached_time(reference, reference_model, prompt, 30)[0])
    ratio = min(ours) / min(theirs)
    record_metric("kv_cache_long_cache_time_ratio", ratio)
    assert ratio <= max_ratio, (f"with a 4096-position cache your generation steps take {ratio:.1f}x the "
                                f"reference's time (limit {max_ratio}x)")
