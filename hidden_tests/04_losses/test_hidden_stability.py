"""Module 04, hidden: losses stay finite and accurate at extreme logits and probabilities."""

import numpy as np
import pytest

from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.tensor import Tensor


def test_cross_entropy_of_huge_logits_is_finite():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = CrossEntropyLoss()(Tensor([[1000.0, 0.0], [0.0, 1000.0]]), Tensor([0, 1])).item()
    assert loss == pytest.approx(0.0, abs=1e-6)


def test_cross_entropy_of_a_confidently_wrong_prediction_is_the_logit_gap():
    loss = CrossEntropyLoss()(Tensor([[0.0, 200.0]]), Tensor([0])).item()
    assert loss == pytest.approx(200.0, rel=1e-5)


def test_cross_entropy_is_shift_invariant():
    logits = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    a = CrossEntropyLoss()(Tensor(logits), Tensor([2])).item()
    b = CrossEntropyLoss()(Tensor(logits + 1000), Tensor([2])).item()
    assert a == pytest.approx(b, rel=1e-4)


def test_binary_cross_entropy_of_exact_zero_and_one_is_finite():
    loss = BinaryCrossEntropyLoss()(Tensor([0.0, 1.0]), Tensor([1.0, 0.0])).item()
    assert np.isfinite(loss) and loss > 10


def test_binary_cross_entropy_of_perfect_predictions_is_near_zero():
    assert BinaryCrossEntropyLoss()(Tensor([1.0, 0.0]), Tensor([1.0, 0.0])).item() < 1e-5


def test_losses_keep_float32():
    x = Tensor(np.full((2, 3), 0.5, dtype=np.float32))
    assert MSELoss()(x, Tensor(np.zeros((2, 3), dtype=np.float32))).dtype == np.float32
    assert CrossEntropyLoss()(x, Tensor([0, 1])).dtype == np.float32
    assert BinaryCrossEntropyLoss()(x, Tensor(np.ones((2, 3), dtype=np.float32))).dtype == np.float32


def test_losses_are_tracked_with_their_rules():
    x = Tensor(np.full((2, 3), 0.5, dtype=np.float32), requires_grad=True)
    assert CrossEntropyLoss()(x, Tensor([0, 1])).grad_fn.name == "CrossEntropyBackward"
    assert BinaryCrossEntropyLoss()(x, Tensor(np.ones((2, 3), dtype=np.float32))).grad_fn.name == "BCEBackward"
    assert MSELoss()(x, Tensor(np.zeros((2, 3), dtype=np.float32))).requires_grad


def test_losses_do_not_modify_predictions():
    data = np.array([[0.0, 1.0]], dtype=np.float32)
    x = Tensor(data.copy())
    BinaryCrossEntropyLoss()(x, Tensor([[1.0, 1.0]]))
    CrossEntropyLoss()(x, Tensor([1]))
    np.testing.assert_array_equal(x.data, data)
