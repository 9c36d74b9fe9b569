"""Module 17: the KVCache container: preallocation, append, advance, overflow."""

import numpy as np
import pytest

from tinytorch.perf.memoization import KVCache

R = np.random.default_rng(0)


def _kv(batch, heads, steps, dim):
    return (R.standard_normal((batch, heads, steps, dim)).astype(np.float32),
            R.standard_normal((batch, heads, steps, dim)).astype(np.float32))


def test_cache_is_preallocated_for_every_layer():
    cache = KVCache(num_layers=3, batch_size=2, num_heads=4, head_dim=8, max_len=16)
    assert cache.keys.shape == cache.values.shape == (3, 2, 4, 16, 8)
    assert cache.keys.dtype == np.float32 and cache.length == 0
    assert cache.nbytes == 2 * 3 * 2 * 4 * 16 * 8 * 4


def test_append_returns_everything_stored_so_far():
    cache = KVCache(num_layers=1, batch_size=1, num_heads=2, head_dim=4, max_len=10)
    k1, v1 = _kv(1, 2, 3, 4)
    keys, values = cache.append(0, k1, v1)
    np.testing.assert_array_equal(keys, k1)
    np.testing.assert_array_equal(values, v1)
    cache.advance(3)
    k2, v2 = _kv(1, 2, 1, 4)
    keys, values = cache.append(0, k2, v2)
    assert keys.shape == (1, 2, 4, 4)
    np.testing.assert_array_equal(keys, np.concatenate([k1, k2], axis=2))
    np.testing.assert_array_equal(values, np.concatenate([v1, v2], axis=2))


def test_length_moves_only_on_advance():
    cache = KVCache(num_layers=2, batch_size=1, num_heads=1, head_dim=2, max_len=8)
    for layer in range(2):
        cache.append(layer, *_kv(1, 1, 2, 2))
        assert cache.length == 0
    cache.advance(2)
    assert cache.length == 2


def test_append_past_max_len_is_refused_with_a_clear_error():
    cache = KVCache(num_layers=1, batch_size=1, num_heads=1, head_dim=2, max_len=4)
    cache.append(0, *_kv(1, 1, 3, 2))
    cache.advance(3)
    with pytest.raises(ValueError, match="4"):
        cache.append(0, *_kv(1, 1, 2, 2))


def test_reset_forgets_positions():
    cache = KVCache(num_layers=1, batch_size=1, num_heads=1, head_dim=2, max_len=4)
    cache.append(0, *_kv(1, 1, 4, 2))
    cache.advance(4)
    cache.reset()
    assert cache.length == 0
    keys, _ = cache.append(0, *_kv(1, 1, 1, 2))
    assert keys.shape[2] == 1
