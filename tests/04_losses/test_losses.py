"""Module 04: MSE, cross-entropy and binary cross-entropy."""

import numpy as np
import pytest

from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.tensor import Tensor


def test_mse_of_known_values():
    loss = MSELoss()(Tensor([1.0, 2.0, 3.0]), Tensor([1.0, 0.0, 0.0]))
    assert loss.item() == pytest.approx((0 + 4 + 9) / 3)


def test_mse_of_perfect_prediction_is_zero():
    x = Tensor([[0.5, -1.0]])
    assert MSELoss()(x, Tensor([[0.5, -1.0]])).item() == 0.0


def test_mse_returns_a_scalar():
    assert MSELoss()(Tensor(np.ones((4, 3), dtype=np.float32)), Tensor(np.zeros((4, 3), dtype=np.float32))).shape == ()


def test_cross_entropy_of_uniform_logits_is_log_classes():
    loss = CrossEntropyLoss()(Tensor(np.zeros((2, 4), dtype=np.float32)), Tensor([0, 3]))
    assert loss.item() == pytest.approx(np.log(4), rel=1e-6)


def test_cross_entropy_matches_the_formula():
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]], dtype=np.float32)
    targets = np.array([0, 1])
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -log_probs[[0, 1], targets].mean()
    assert CrossEntropyLoss()(Tensor(logits), Tensor(targets)).item() == pytest.approx(expected, rel=1e-5)


def test_cross_entropy_of_confident_correct_prediction_is_small():
    assert CrossEntropyLoss()(Tensor([[10.0, 0.0, 0.0]]), Tensor([0])).item() < 1e-3


def test_cross_entropy_accepts_numpy_targets():
    loss = CrossEntropyLoss()(Tensor(np.zeros((3, 2), dtype=np.float32)), np.array([0, 1, 1]))
    assert loss.item() == pytest.approx(np.log(2), rel=1e-6)


def test_binary_cross_entropy_of_known_values():
    loss = BinaryCrossEntropyLoss()(Tensor([0.9, 0.2]), Tensor([1.0, 0.0]))
    assert loss.item() == pytest.approx(-(np.log(0.9) + np.log(0.8)) / 2, rel=1e-5)


def test_binary_cross_entropy_of_one_half_is_log_two():
    assert BinaryCrossEntropyLoss()(Tensor([0.5, 0.5]), Tensor([1.0, 0.0])).item() == pytest.approx(np.log(2), rel=1e-6)
