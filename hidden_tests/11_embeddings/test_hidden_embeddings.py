"""Module 11, hidden: gradients, dtypes, limits."""

import numpy as np
import pytest

from tinytorch.core.embeddings import Embedding, PositionalEncoding, create_sinusoidal_embeddings
from tinytorch.core.tensor import Tensor


def test_embedding_matches_finite_differences(gradcheck):
    ids = np.array([[0, 2, 2], [1, 0, 3]])

    def run(weight):
        emb = Embedding(4, 3)
        emb.weight = weight
        return emb(ids)

    assert gradcheck(run, np.random.default_rng(0).standard_normal((4, 3)))


def test_repeated_ids_accumulate_their_gradients():
    emb = Embedding(3, 1)
    emb(np.array([[2, 2], [2, 0]])).sum().backward()
    np.testing.assert_allclose(emb.weight.grad.data[:, 0], [1, 0, 3])


def test_float_ids_are_refused():
    with pytest.raises(TypeError):
        Embedding(3, 2)(np.array([0.0, 1.0]))


def test_negative_ids_are_refused():
    with pytest.raises(ValueError):
        Embedding(3, 2)(np.array([-1]))


def test_embedding_output_is_float32_and_tracked():
    out = Embedding(3, 2)(Tensor(np.array([0, 1])))
    assert out.dtype == np.float32 and out.requires_grad


def test_positions_longer_than_the_table_are_refused():
    with pytest.raises(ValueError):
        PositionalEncoding(4, 2)(Tensor(np.zeros((1, 5, 2), dtype=np.float32)))


def test_learned_positions_get_gradients():
    pos = PositionalEncoding(6, 2)
    pos(Tensor(np.zeros((3, 4, 2), dtype=np.float32))).sum().backward()
    np.testing.assert_allclose(pos.embedding.weight.grad.data[:, 0], [3, 3, 3, 3, 0, 0])


def test_sinusoidal_odd_columns_are_cosines():
    table = create_sinusoidal_embeddings(5, 4).data
    np.testing.assert_allclose(table[2, 1], np.cos(2.0), rtol=1e-6)
    np.testing.assert_allclose(table[2, 3], np.cos(2.0 / 100), rtol=1e-6)
    assert table.dtype == np.float32


def test_a_sequence_of_exactly_max_seq_len_is_accepted():
    out = PositionalEncoding(4, 2)(Tensor(np.zeros((1, 4, 2), dtype=np.float32)))
    assert out.shape == (1, 4, 2)


def test_a_too_long_sequence_is_refused_naming_its_length():
    with pytest.raises(ValueError, match="5"):
        PositionalEncoding(4, 2)(Tensor(np.zeros((1, 5, 2), dtype=np.float32)))


def test_sinusoidal_frequencies_at_a_far_position():
    """Base 10000 and paired frequencies: at t = 1000 with D = 4, columns 2 and 3 are sin and cos of 10."""
    table = create_sinusoidal_embeddings(1001, 4).data
    np.testing.assert_allclose(table[1000], [np.sin(1000.0), np.cos(1000.0), np.sin(10.0), np.cos(10.0)], atol=1e-5)
