"""Module 01, creating tensors: shapes, dtypes, conversions."""

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor


def test_tensor_from_nested_list_has_its_shape():
    assert Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).shape == (2, 3)


def test_python_floats_become_float32():
    assert Tensor([1.5, 2.5]).dtype == np.float32


def test_python_ints_become_int64():
    assert Tensor([1, 2, 3]).dtype == np.int64


def test_scalar_tensor_has_empty_shape_and_item():
    t = Tensor(3.5)
    assert t.shape == ()
    assert t.item() == pytest.approx(3.5)


def test_numpy_array_keeps_its_dtype():
    assert Tensor(np.zeros(3, dtype=np.float64)).dtype == np.float64


def test_explicit_dtype_wins():
    assert Tensor([1, 2], dtype=np.float32).dtype == np.float32


def test_size_and_ndim_follow_the_data():
    t = Tensor(np.ones((2, 3, 4), dtype=np.float32))
    assert (t.size, t.ndim) == (24, 3)


def test_numpy_returns_the_values():
    np.testing.assert_array_equal(Tensor([[1, 2], [3, 4]]).numpy(), [[1, 2], [3, 4]])


def test_tensor_from_tensor_shares_values():
    a = Tensor([1.0, 2.0])
    np.testing.assert_array_equal(Tensor(a).data, a.data)


def test_requires_grad_is_stored_and_grad_starts_empty():
    t = Tensor([1.0], requires_grad=True)
    assert t.requires_grad and t.grad is None
