"""Module 01, matrix multiplication, reshape, transpose and permute."""

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor


def test_matmul_of_two_matrices():
    a = Tensor([[1.0, 2.0], [3.0, 4.0]])
    b = Tensor([[5.0, 6.0], [7.0, 8.0]])
    np.testing.assert_allclose(a.matmul(b).data, [[19, 22], [43, 50]])


def test_at_operator_is_matmul():
    a = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    b = Tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    np.testing.assert_allclose((a @ b).data, a.data @ b.data)


def test_batched_matmul_broadcasts_the_batch():
    a = Tensor(np.ones((4, 2, 3), dtype=np.float32))
    b = Tensor(np.ones((3, 5), dtype=np.float32))
    assert (a @ b).shape == (4, 2, 5)


def test_matmul_shape_mismatch_raises_value_error():
    with pytest.raises(ValueError):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((2, 3)))


def test_reshape_keeps_the_elements_in_order():
    t = Tensor(np.arange(6, dtype=np.float32))
    np.testing.assert_array_equal(t.reshape(2, 3).data, [[0, 1, 2], [3, 4, 5]])


def test_reshape_accepts_a_tuple_and_minus_one():
    t = Tensor(np.arange(12, dtype=np.float32))
    assert t.reshape((3, -1)).shape == (3, 4)


def test_transpose_swaps_the_last_two_dimensions():
    t = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(t.transpose().data, t.data.T)


def test_transpose_with_explicit_dimensions():
    t = Tensor(np.zeros((2, 3, 4), dtype=np.float32))
    assert t.transpose(0, 2).shape == (4, 3, 2)


def test_permute_reorders_all_dimensions():
    t = Tensor(np.zeros((2, 3, 4, 5), dtype=np.float32))
    assert t.permute(0, 3, 1, 2).shape == (2, 5, 3, 4)
