"""Module 12, hidden: gradients, masks, causality, head splitting."""

import numpy as np
import pytest

from tinytorch.core.attention import MultiHeadAttention, causal_mask, scaled_dot_product_attention
from tinytorch.core.tensor import Tensor

R = np.random.default_rng(3)


def test_attention_matches_finite_differences(gradcheck):
    def run(q, k, v):
        return scaled_dot_product_attention(q, k, v)[0]

    assert gradcheck(run, R.standard_normal((2, 3, 4)), R.standard_normal((2, 3, 4)), R.standard_normal((2, 3, 2)))


def test_masked_attention_matches_finite_differences(gradcheck):
    def run(q, k, v):
        return scaled_dot_product_attention(q, k, v, mask=causal_mask(3))[0]

    assert gradcheck(run, R.standard_normal((1, 3, 4)), R.standard_normal((1, 3, 4)), R.standard_normal((1, 3, 4)))


def test_multi_head_attention_matches_finite_differences(gradcheck):
    mha = MultiHeadAttention(4, 2, rng=np.random.default_rng(0))
    for p in mha.parameters():
        p.data = p.data.astype(np.float64)
    assert gradcheck(lambda x: mha(x, causal=True), R.standard_normal((2, 3, 4)))


def test_padding_mask_gives_masked_keys_zero_weight():
    mask = np.array([[[True, True, False]]])
    _, weights = scaled_dot_product_attention(*(Tensor(R.standard_normal((1, 3, 4)).astype(np.float32)) for _ in range(3)), mask=mask)
    assert np.all(weights.data[..., 2] == 0)


def test_output_at_t_does_not_depend_on_later_tokens():
    mha = MultiHeadAttention(8, 2, rng=np.random.default_rng(1))
    x = R.standard_normal((1, 5, 8)).astype(np.float32)
    changed = x.copy()
    changed[0, 3:] += 10
    a, b = mha(Tensor(x), causal=True).data, mha(Tensor(changed), causal=True).data
    np.testing.assert_allclose(a[0, :3], b[0, :3], rtol=1e-5, atol=1e-6)
    assert not np.allclose(a[0, 3:], b[0, 3:])


def test_heads_are_independent_slices():
    mha = MultiHeadAttention(6, 3)
    x = Tensor(np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 4, 6))
    heads = mha.split_heads(x)
    assert heads.shape == (2, 3, 4, 2)
    np.testing.assert_array_equal(heads.data[1, 2, 3], x.data[1, 3, 4:6])
    np.testing.assert_array_equal(mha.merge_heads(heads).data, x.data)


def test_embed_dim_not_divisible_by_heads_is_refused():
    with pytest.raises(ValueError):
        MultiHeadAttention(10, 3)


def test_wrong_input_width_is_refused():
    with pytest.raises(ValueError):
        MultiHeadAttention(8, 2)(Tensor(np.zeros((1, 3, 4), dtype=np.float32)))


def test_attention_keeps_float32():
    out, weights = scaled_dot_product_attention(*(Tensor(R.standard_normal((1, 3, 4)).astype(np.float32)) for _ in range(3)),
                                                mask=causal_mask(3))
    assert out.dtype == np.float32 and weights.dtype == np.float32


def test_input_without_a_batch_axis_is_refused_naming_its_shape():
    with pytest.raises(ValueError, match=r"\(5, 8\)"):
        MultiHeadAttention(8, 2)(Tensor(np.zeros((5, 8), dtype=np.float32)))


def _linear(layer, x):
    return x @ layer.weight.data.astype(np.float64) + layer.bias.data.astype(np.float64)


def test_multi_head_attention_matches_a_numpy_computation():
    """Project, split into heads, attend with 1/sqrt(d) scaling, merge, then the output projection."""
    mha = MultiHeadAttention(8, 2, rng=np.random.default_rng(3))
    for layer in (mha.q_proj, mha.k_proj, mha.v_proj, mha.out_proj):
        layer.bias.data = np.random.default_rng(4).standard_normal(layer.bias.shape).astype(layer.bias.data.dtype)
    x = np.random.default_rng(5).standard_normal((2, 3, 8))
    q, k, v = (_linear(p, x).reshape(2, 3, 2, 4).transpose(0, 2, 1, 3) for p in (mha.q_proj, mha.k_proj, mha.v_proj))
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(4)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    merged = (weights @ v).transpose(0, 2, 1, 3).reshape(2, 3, 8)
    out = mha(Tensor(x.astype(np.float32))).data
    np.testing.assert_allclose(out, _linear(mha.out_proj, merged), rtol=1e-4, atol=1e-5)
