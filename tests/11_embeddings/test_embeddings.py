"""Module 11: Embedding lookup and positional encodings."""

import numpy as np
import pytest

from tinytorch.core.embeddings import Embedding, PositionalEncoding, SinusoidalPositionalEncoding, create_sinusoidal_embeddings
from tinytorch.core.tensor import Tensor


def test_embedding_looks_up_rows():
    emb = Embedding(10, 4, rng=np.random.default_rng(0))
    out = emb(np.array([[1, 3], [3, 9]]))
    assert out.shape == (2, 2, 4)
    np.testing.assert_array_equal(out.data[0, 1], emb.weight.data[3])


def test_embedding_gradient_reaches_the_rows_used():
    emb = Embedding(5, 2)
    emb(np.array([1, 1, 4])).sum().backward()
    np.testing.assert_allclose(emb.weight.grad.data[:, 0], [0, 2, 0, 0, 1])


def test_out_of_range_ids_are_refused():
    with pytest.raises(ValueError):
        Embedding(5, 2)(np.array([5]))


def test_learned_positions_add_one_vector_per_position():
    pos = PositionalEncoding(8, 4, rng=np.random.default_rng(0))
    out = pos(Tensor(np.zeros((2, 3, 4), dtype=np.float32)))
    np.testing.assert_array_equal(out.data[1], pos.embedding.weight.data[:3])


def test_sinusoidal_table_values():
    table = create_sinusoidal_embeddings(10, 6).data
    assert table.shape == (10, 6)
    np.testing.assert_allclose(table[0], [0, 1, 0, 1, 0, 1], atol=1e-7)
    np.testing.assert_allclose(table[3, 0], np.sin(3.0), rtol=1e-6)


def test_sinusoidal_encoding_keeps_shape():
    assert SinusoidalPositionalEncoding(16, 8)(Tensor(np.zeros((2, 5, 8), dtype=np.float32))).shape == (2, 5, 8)
