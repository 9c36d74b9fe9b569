"""Module 01, hidden: bad input raises errors that name the shapes."""

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor


def test_matmul_mismatch_message_names_both_shapes():
    with pytest.raises(ValueError) as error:
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))
    assert "(2, 3)" in str(error.value) and "(4, 5)" in str(error.value)


def test_matmul_of_a_scalar_is_refused():
    with pytest.raises(ValueError):
        Tensor(2.0) @ Tensor(np.ones(3))


def test_reshape_to_the_wrong_size_names_the_shape():
    with pytest.raises(ValueError) as error:
        Tensor(np.ones(6)).reshape(4, 2)
    assert "(6,)" in str(error.value)


def test_permute_with_a_repeated_axis_is_refused():
    with pytest.raises(ValueError):
        Tensor(np.zeros((2, 3))).permute(0, 0)


def test_item_of_many_elements_is_refused():
    with pytest.raises(ValueError):
        Tensor([1.0, 2.0]).item()


def test_strings_are_not_tensors():
    with pytest.raises(TypeError):
        Tensor(["a", "b"])


def test_tensor_exponent_is_refused():
    with pytest.raises(TypeError):
        Tensor([1.0]) ** Tensor([2.0])
