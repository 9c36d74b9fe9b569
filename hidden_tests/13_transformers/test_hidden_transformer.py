"""Module 13, hidden: exact gradients, causality, generation, training signal."""

import numpy as np
import pytest

from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import GPT, MLP, LayerNorm, TransformerBlock, next_tokens

R = np.random.default_rng(5)


def _float64(layer):
    for p in layer.parameters():
        p.data = p.data.astype(np.float64)
    return layer


def test_layernorm_matches_finite_differences(gradcheck):
    def run(x, gamma, beta):
        ln = LayerNorm(4)
        ln.gamma, ln.beta = gamma, beta
        return ln(x)

    assert gradcheck(run, R.standard_normal((2, 3, 4)) * 3, R.standard_normal(4), R.standard_normal(4))


def test_mlp_matches_finite_differences(gradcheck):
    mlp = _float64(MLP(4, 6, rng=np.random.default_rng(0)))
    assert gradcheck(mlp, R.standard_normal((2, 3, 4)))


def test_block_matches_finite_differences(gradcheck):
    block = _float64(TransformerBlock(4, 2, rng=np.random.default_rng(0)))
    assert gradcheck(lambda x: block(x, mask=np.tril(np.ones((3, 3), dtype=bool))), R.standard_normal((2, 3, 4)))


def test_gpt_is_causal():
    model = GPT(vocab_size=9, embed_dim=8, num_layers=2, num_heads=2, max_seq_len=8, rng=np.random.default_rng(0))
    a = model(np.array([[1, 2, 3, 4, 5]])).data
    b = model(np.array([[1, 2, 3, 8, 0]])).data
    np.testing.assert_allclose(a[0, :3], b[0, :3], rtol=1e-5, atol=1e-6)


def test_greedy_generation_is_deterministic():
    model = GPT(vocab_size=9, embed_dim=8, num_layers=1, num_heads=2, max_seq_len=6, rng=np.random.default_rng(0))
    a = model.generate([1, 2], max_new_tokens=8, greedy=True)
    b = model.generate([1, 2], max_new_tokens=8, greedy=True)
    assert a.tolist() == b.tolist() and len(a) == 10


def test_seeded_sampling_is_reproducible():
    model = GPT(vocab_size=9, embed_dim=8, num_layers=1, num_heads=2, max_seq_len=6, rng=np.random.default_rng(0))
    a = model.generate([1], max_new_tokens=6, temperature=0.8, top_k=3, rng=np.random.default_rng(1))
    b = model.generate([1], max_new_tokens=6, temperature=0.8, top_k=3, rng=np.random.default_rng(1))
    assert a.tolist() == b.tolist()


def test_top_k_only_samples_the_k_most_likely():
    logits = np.array([[0.0, 5.0, 4.0, -1.0, 3.0]])
    picks = {int(next_tokens(logits, 1.0, 2, False, np.random.default_rng(i))[0]) for i in range(50)}
    assert picks <= {1, 2} and len(picks) == 2


def test_greedy_takes_the_argmax_per_row():
    assert next_tokens(np.array([[0.0, 2.0, 1.0], [3.0, 0.0, 1.0]]), 1.0, None, True, np.random.default_rng(0)).tolist() == [1, 0]


def test_too_long_sequences_are_refused():
    with pytest.raises(ValueError):
        GPT(vocab_size=5, embed_dim=4, num_layers=1, num_heads=2, max_seq_len=3)(np.zeros((1, 4), dtype=np.int64))


def test_a_tiny_gpt_learns_to_copy_a_pattern():
    rng = np.random.default_rng(0)
    model = GPT(vocab_size=4, embed_dim=16, num_layers=1, num_heads=2, max_seq_len=8, rng=rng)
    data = np.tile(np.array([0, 1, 2, 3]), (8, 3))[:, :9]
    optimizer = Adam(model.parameters(), lr=0.01)
    for _ in range(60):
        optimizer.zero_grad()
        loss = CrossEntropyLoss()(model(data[:, :-1]).reshape(-1, 4), data[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.2


def test_generate_leaves_training_mode_as_it_was():
    model = GPT(vocab_size=5, embed_dim=4, num_layers=1, num_heads=2, max_seq_len=4)
    model.generate([0], max_new_tokens=2, greedy=True)
    assert model.training and model.blocks[0].training
