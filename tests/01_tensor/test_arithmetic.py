"""Module 01, element-wise arithmetic with broadcasting and reflected operands."""

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor


@pytest.fixture
def a():
    return Tensor([[1.0, 2.0], [3.0, 4.0]])


def test_add_two_tensors(a):
    np.testing.assert_allclose((a + a).data, [[2, 4], [6, 8]])


def test_subtract_two_tensors(a):
    np.testing.assert_allclose((a - Tensor([[1.0, 1.0], [1.0, 1.0]])).data, [[0, 1], [2, 3]])


def test_multiply_two_tensors(a):
    np.testing.assert_allclose((a * a).data, [[1, 4], [9, 16]])


def test_divide_two_tensors(a):
    np.testing.assert_allclose((a / Tensor([[2.0, 2.0], [2.0, 2.0]])).data, [[0.5, 1], [1.5, 2]])


def test_scalar_operands_on_the_right(a):
    np.testing.assert_allclose((a + 1).data, [[2, 3], [4, 5]])
    np.testing.assert_allclose((a * 2).data, [[2, 4], [6, 8]])


def test_reflected_operands(a):
    np.testing.assert_allclose((10 - a).data, [[9, 8], [7, 6]])
    np.testing.assert_allclose((1 / a).data, [[1, 0.5], [1 / 3, 0.25]], rtol=1e-6)
    np.testing.assert_allclose((3 + a).data, (a + 3).data)
    np.testing.assert_allclose((3 * a).data, (a * 3).data)


def test_row_vector_broadcasts_over_rows(a):
    np.testing.assert_allclose((a + Tensor([10.0, 20.0])).data, [[11, 22], [13, 24]])


def test_column_vector_broadcasts_over_columns(a):
    np.testing.assert_allclose((a * Tensor([[1.0], [10.0]])).data, [[1, 2], [30, 40]])


def test_negation_and_power(a):
    np.testing.assert_allclose((-a).data, [[-1, -2], [-3, -4]])
    np.testing.assert_allclose((a ** 2).data, [[1, 4], [9, 16]])


def test_exp_log_sqrt():
    x = Tensor([1.0, 4.0])
    np.testing.assert_allclose(x.exp().data, np.exp([1.0, 4.0]), rtol=1e-6)
    np.testing.assert_allclose(x.log().data, np.log([1.0, 4.0]), rtol=1e-6)
    np.testing.assert_allclose(x.sqrt().data, [1.0, 2.0])
