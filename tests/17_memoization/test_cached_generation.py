"""Module 17: cached attention and cached forward agree with the uncached model; generate uses them."""

import numpy as np

from tinytorch.core.attention import MultiHeadAttention, causal_mask
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import GPT
from tinytorch.perf.memoization import KVCache, cached_attention, cached_forward


def _gpt(max_seq_len=32, seed=0):
    return GPT(vocab_size=13, embed_dim=16, num_layers=2, num_heads=4, max_seq_len=max_seq_len,
               rng=np.random.default_rng(seed)).eval()


def test_cached_attention_one_token_at_a_time_matches_full_causal_attention():
    attention = MultiHeadAttention(8, 2, rng=np.random.default_rng(1))
    x = np.random.default_rng(2).standard_normal((1, 5, 8)).astype(np.float32)
    full = attention(Tensor(x), mask=causal_mask(5)).data
    cache = KVCache(num_layers=1, batch_size=1, num_heads=2, head_dim=4, max_len=5)
    rows = []
    for t in range(5):
        rows.append(cached_attention(attention, Tensor(x[:, t:t + 1]), cache, layer=0).data)
        cache.advance(1)
    np.testing.assert_allclose(np.concatenate(rows, axis=1), full, rtol=1e-4, atol=1e-5)


def test_cached_forward_of_the_whole_prompt_equals_forward():
    model = _gpt()
    tokens = np.random.default_rng(3).integers(0, 13, (2, 7))
    cache = KVCache.for_model(model, batch_size=2)
    np.testing.assert_allclose(cached_forward(model, tokens, cache), model(tokens).data, rtol=1e-4, atol=1e-5)
    assert cache.length == 7


def test_prefill_then_single_steps_equals_forward():
    model = _gpt()
    tokens = np.random.default_rng(4).integers(0, 13, (1, 9))
    cache = KVCache.for_model(model, batch_size=1)
    first = cached_forward(model, tokens[:, :6], cache)
    steps = [cached_forward(model, tokens[:, t:t + 1], cache) for t in range(6, 9)]
    np.testing.assert_allclose(np.concatenate([first] + steps, axis=1), model(tokens).data, rtol=1e-4, atol=1e-5)


def test_greedy_generation_is_identical_with_and_without_the_cache():
    model = _gpt()
    prompt = np.array([1, 5, 2, 7])
    plain = model.generate(prompt, max_new_tokens=20, greedy=True)
    cached = model.generate(prompt, max_new_tokens=20, greedy=True, use_cache=True)
    np.testing.assert_array_equal(cached, plain)


def test_next_logits_feeds_only_new_tokens():
    model = _gpt()
    tokens = np.random.default_rng(5).integers(0, 13, (1, 6))
    cache = KVCache.for_model(model, batch_size=1)
    logits = cache.next_logits(model, tokens)
    assert logits.shape == (1, 13) and cache.length == 6
    np.testing.assert_allclose(logits, model(tokens).data[:, -1], rtol=1e-4, atol=1e-5)
