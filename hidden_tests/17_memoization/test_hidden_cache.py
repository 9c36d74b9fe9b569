"""Module 17, hidden: batches, chunked prefill, sliding windows, sampling, no copies."""

import numpy as np
import pytest
from tinytorch_grader.testkit import object_id, peak_bytes

from tinytorch.core.attention import MultiHeadAttention, causal_mask
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import GPT
from tinytorch.perf.memoization import KVCache, cached_attention, cached_forward


def _gpt(max_seq_len=32, vocab=17, seed=0):
    return GPT(vocab_size=vocab, embed_dim=16, num_layers=2, num_heads=2, max_seq_len=max_seq_len,
               rng=np.random.default_rng(seed)).eval()


def test_append_writes_into_the_cache_without_copying():
    cache = KVCache(num_layers=2, batch_size=1, num_heads=1, head_dim=2, max_len=6)
    k = np.ones((1, 1, 2, 2), np.float32)
    arrays = object_id(cache, "keys"), object_id(cache, "values")
    keys, values = cache.append(1, k, 2 * k)
    assert (object_id(cache, "keys"), object_id(cache, "values")) == arrays  # written in place, never rebuilt
    np.testing.assert_array_equal(keys, cache.keys[1, :, :, :2])
    np.testing.assert_array_equal(values, cache.values[1, :, :, :2])
    np.testing.assert_array_equal(cache.values[1, :, :, :2], 2 * k)
    assert not cache.keys[0].any()


def test_append_returns_views_of_the_cache_not_copies():
    """With 4000 positions stored, a copy of what append returns would be 2 MB per array; a view is free."""
    cache = KVCache(num_layers=1, batch_size=1, num_heads=4, head_dim=32, max_len=4096)
    prefix = np.ones((1, 4, 4000, 32), np.float32)
    cache.append(0, prefix, prefix)
    cache.advance(4000)
    one = np.ones((1, 4, 1, 32), np.float32)
    (keys, values), allocated = peak_bytes(cache.append, 0, one, one)
    assert keys.shape == values.shape == (1, 4, 4001, 32)
    assert allocated < keys.nbytes // 100, f"one append allocated {allocated} bytes; what it returns is {keys.nbytes}"


def test_append_writes_after_the_stored_positions():
    cache = KVCache(num_layers=1, batch_size=1, num_heads=1, head_dim=1, max_len=5)
    cache.append(0, np.full((1, 1, 2, 1), 1.0, np.float32), np.zeros((1, 1, 2, 1), np.float32))
    cache.advance(2)
    keys, _ = cache.append(0, np.full((1, 1, 2, 1), 7.0, np.float32), np.zeros((1, 1, 2, 1), np.float32))
    assert keys[0, 0, :, 0].tolist() == [1, 1, 7, 7]


def test_cache_filled_exactly_to_max_len_is_allowed():
    cache = KVCache(num_layers=1, batch_size=1, num_heads=1, head_dim=1, max_len=3)
    keys, _ = cache.append(0, np.zeros((1, 1, 3, 1), np.float32), np.zeros((1, 1, 3, 1), np.float32))
    assert keys.shape[2] == 3


def test_cached_attention_with_several_new_positions_is_causal():
    attention = MultiHeadAttention(8, 2, rng=np.random.default_rng(1))
    x = np.random.default_rng(2).standard_normal((2, 7, 8)).astype(np.float32)
    full = attention(Tensor(x), mask=causal_mask(7)).data
    cache = KVCache(num_layers=1, batch_size=2, num_heads=2, head_dim=4, max_len=8)
    a = cached_attention(attention, Tensor(x[:, :3]), cache, 0).data
    cache.advance(3)
    b = cached_attention(attention, Tensor(x[:, 3:]), cache, 0).data
    np.testing.assert_allclose(np.concatenate([a, b], axis=1), full, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("chunks", [(1, 1, 1, 1, 1, 1), (2, 3, 1), (4, 2), (6,)])
def test_any_chunking_of_the_sequence_gives_the_same_logits(chunks):
    model = _gpt()
    tokens = np.random.default_rng(3).integers(0, 17, (3, 6))
    cache = KVCache.for_model(model, batch_size=3)
    pieces, start = [], 0
    for size in chunks:
        pieces.append(cached_forward(model, tokens[:, start:start + size], cache))
        start += size
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), model(tokens).data, rtol=1e-4, atol=1e-5)


def test_batched_greedy_generation_matches_without_cache():
    model = _gpt()
    prompts = np.random.default_rng(4).integers(0, 17, (3, 4))
    np.testing.assert_array_equal(model.generate(prompts, 15, greedy=True, use_cache=True),
                                  model.generate(prompts, 15, greedy=True))


def test_generation_past_the_context_window_matches_the_sliding_uncached_model():
    model = _gpt(max_seq_len=8)
    prompt = np.array([3, 1, 4, 1, 5])
    np.testing.assert_array_equal(model.generate(prompt, 20, greedy=True, use_cache=True),
                                  model.generate(prompt, 20, greedy=True))


def test_single_token_prompt():
    model = _gpt()
    np.testing.assert_array_equal(model.generate(np.array([2]), 10, greedy=True, use_cache=True),
                                  model.generate(np.array([2]), 10, greedy=True))


def test_sampling_with_the_same_seed_gives_the_same_text_with_and_without_cache():
    model = _gpt()
    prompt = np.array([1, 2, 3])
    a = model.generate(prompt, 12, temperature=0.8, top_k=5, rng=np.random.default_rng(9), use_cache=True)
    b = model.generate(prompt, 12, temperature=0.8, top_k=5, rng=np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)


def test_positions_continue_from_the_cache_length():
    """A cached step must use position embedding `length`, not 0."""
    model = _gpt()
    tokens = np.array([[5, 5, 5, 5]])
    cache = KVCache.for_model(model, batch_size=1)
    cached_forward(model, tokens[:, :3], cache)
    last = cached_forward(model, tokens[:, 3:], cache)
    np.testing.assert_allclose(last[:, 0], model(tokens).data[:, 3], rtol=1e-4, atol=1e-5)


def test_cache_size_follows_the_model():
    model = GPT(vocab_size=5, embed_dim=12, num_layers=3, num_heads=3, max_seq_len=10,
                rng=np.random.default_rng(0))
    cache = KVCache.for_model(model, batch_size=2)
    assert cache.keys.shape == (3, 2, 3, 10, 4)


def test_append_allocates_nothing_the_size_of_the_cache():
    """Appending writes into the preallocated arrays: no copy of the cache (tracemalloc sees NumPy buffers).

    Measured where the cache runs (``peak_bytes``).
    """
    cache = KVCache(num_layers=4, batch_size=1, num_heads=4, head_dim=32, max_len=2048)
    cache_bytes = 4 * 4 * 2048 * 32 * 4  # one of the two arrays, float32
    k = np.ones((1, 4, 1, 32), np.float32)
    cache.append(0, k, k)
    cache.advance(1)
    _, allocated = peak_bytes(cache.append, 1, k, 2 * k)
    assert allocated < cache_bytes // 100, f"one append allocated {allocated} bytes; the cache array is {cache_bytes}"
