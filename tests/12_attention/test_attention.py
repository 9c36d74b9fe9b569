"""Module 12: scaled dot-product attention, masks, multi-head attention."""

import numpy as np

from tinytorch.core.attention import MultiHeadAttention, causal_mask, scaled_dot_product_attention
from tinytorch.core.tensor import Tensor

R = np.random.default_rng(0)


def _t(*shape):
    return Tensor(R.standard_normal(shape).astype(np.float32))


def test_attention_matches_the_formula():
    q, k, v = _t(2, 3, 4), _t(2, 5, 4), _t(2, 5, 6)
    out, weights = scaled_dot_product_attention(q, k, v)
    scores = q.data @ k.data.transpose(0, 2, 1) / 2.0
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(weights.data, expected, rtol=1e-5)
    np.testing.assert_allclose(out.data, expected @ v.data, rtol=1e-5, atol=1e-6)


def test_weights_sum_to_one():
    _, weights = scaled_dot_product_attention(_t(1, 4, 8), _t(1, 4, 8), _t(1, 4, 8))
    np.testing.assert_allclose(weights.data.sum(-1), 1.0, rtol=1e-5)


def test_causal_mask_hides_the_future():
    _, weights = scaled_dot_product_attention(_t(1, 4, 8), _t(1, 4, 8), _t(1, 4, 8), mask=causal_mask(4))
    assert np.all(weights.data[0][np.triu_indices(4, 1)] == 0)


def test_multi_head_attention_keeps_the_shape():
    mha = MultiHeadAttention(16, 4, rng=R)
    assert mha(_t(2, 5, 16)).shape == (2, 5, 16)


def test_multi_head_attention_has_four_projections():
    assert len(MultiHeadAttention(8, 2).parameters()) == 8
