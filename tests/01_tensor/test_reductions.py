"""Module 01, reductions (sum, mean, max) and indexing."""

import numpy as np

from tinytorch.core.tensor import Tensor

DATA = np.array([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]], dtype=np.float32)


def test_sum_of_everything():
    assert Tensor(DATA).sum().item() == 21.0


def test_sum_along_an_axis():
    np.testing.assert_allclose(Tensor(DATA).sum(axis=0).data, [5, 7, 9])


def test_mean_along_an_axis_with_keepdims():
    out = Tensor(DATA).mean(axis=1, keepdims=True)
    assert out.shape == (2, 1)
    np.testing.assert_allclose(out.data, [[3.0], [4.0]])


def test_max_of_everything_and_along_an_axis():
    assert Tensor(DATA).max().item() == 6.0
    np.testing.assert_allclose(Tensor(DATA).max(axis=1).data, [5, 6])


def test_indexing_a_row_and_a_slice():
    t = Tensor(DATA)
    np.testing.assert_allclose(t[1].data, [4, 2, 6])
    np.testing.assert_allclose(t[:, 1:].data, [[5, 3], [2, 6]])


def test_indexing_with_an_integer_array():
    t = Tensor(DATA)
    np.testing.assert_allclose(t[np.array([1, 0, 1])].data, DATA[[1, 0, 1]])
