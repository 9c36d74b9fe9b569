"""Module 13: LayerNorm, MLP, the transformer block and GPT."""

import numpy as np

from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import GPT, MLP, LayerNorm, TransformerBlock, create_causal_mask

R = np.random.default_rng(0)


def test_layernorm_normalises_the_last_axis():
    out = LayerNorm(6)(Tensor((R.standard_normal((2, 3, 6)) * 4 + 3).astype(np.float32))).data
    np.testing.assert_allclose(out.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(out.var(-1), 1, rtol=1e-3)


def test_mlp_and_block_keep_the_shape():
    x = Tensor(R.standard_normal((2, 4, 8)).astype(np.float32))
    assert MLP(8)(x).shape == (2, 4, 8)
    assert TransformerBlock(8, 2)(x).shape == (2, 4, 8)


def test_causal_mask_shape_and_values():
    mask = create_causal_mask(3).data
    assert mask.shape == (1, 3, 3) and mask[0].tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]


def test_gpt_gives_logits_for_every_position():
    model = GPT(vocab_size=11, embed_dim=8, num_layers=2, num_heads=2, max_seq_len=16, rng=R)
    assert model(np.zeros((3, 5), dtype=np.int64)).shape == (3, 5, 11)


def test_generate_appends_tokens():
    model = GPT(vocab_size=7, embed_dim=8, num_layers=1, num_heads=2, max_seq_len=8, rng=R)
    out = model.generate(np.array([1, 2]), max_new_tokens=5, rng=np.random.default_rng(0))
    assert out.shape == (7,) and out[:2].tolist() == [1, 2] and out.max() < 7
