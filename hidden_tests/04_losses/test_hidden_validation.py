"""Module 04, hidden: target checks with clear errors, and reduction over the right axes."""

import numpy as np
import pytest

from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.tensor import Tensor


def test_float_targets_are_refused_with_type_error():
    with pytest.raises(TypeError):
        CrossEntropyLoss()(Tensor(np.zeros((2, 3), dtype=np.float32)), Tensor([0.0, 1.0]))


def test_target_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError) as error:
        CrossEntropyLoss()(Tensor(np.zeros((2, 3), dtype=np.float32)), Tensor([0, 1, 2]))
    assert "(3,)" in str(error.value) and "(2, 3)" in str(error.value)


def test_out_of_range_labels_are_refused():
    with pytest.raises(ValueError):
        CrossEntropyLoss()(Tensor(np.zeros((2, 3), dtype=np.float32)), Tensor([0, 3]))


def test_negative_labels_are_refused():
    with pytest.raises(ValueError):
        CrossEntropyLoss()(Tensor(np.zeros((1, 3), dtype=np.float32)), Tensor([-1]))


def test_one_dimensional_logits_are_refused():
    with pytest.raises(ValueError):
        CrossEntropyLoss()(Tensor(np.zeros(3, dtype=np.float32)), Tensor([0]))


def test_mse_shape_mismatch_is_refused():
    with pytest.raises(ValueError):
        MSELoss()(Tensor(np.zeros((3, 1), dtype=np.float32)), Tensor(np.zeros(3, dtype=np.float32)))


def test_bce_shape_mismatch_is_refused():
    with pytest.raises(ValueError):
        BinaryCrossEntropyLoss()(Tensor([0.5, 0.5]), Tensor([[1.0], [0.0]]))


def test_cross_entropy_averages_over_the_batch_not_the_classes():
    logits = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]], dtype=np.float32))
    loss = CrossEntropyLoss()(Tensor(logits), Tensor([0, 1])).item()
    assert loss == pytest.approx(-(np.log(0.5) + np.log(0.8)) / 2, rel=1e-5)


def test_cross_entropy_does_not_depend_on_batch_size():
    row = np.array([[1.0, -1.0, 0.5]], dtype=np.float32)
    one = CrossEntropyLoss()(Tensor(row), Tensor([2])).item()
    many = CrossEntropyLoss()(Tensor(np.repeat(row, 5, axis=0)), Tensor([2] * 5)).item()
    assert one == pytest.approx(many, rel=1e-6)


def test_mse_averages_over_every_element():
    loss = MSELoss()(Tensor(np.ones((2, 5), dtype=np.float32)), Tensor(np.zeros((2, 5), dtype=np.float32)))
    assert loss.item() == pytest.approx(1.0)


def test_mse_with_integer_targets_stays_float32():
    assert MSELoss()(Tensor([1.0, 2.0]), Tensor([1, 1])).dtype == np.float32
