"""Module 07: learning-rate schedules and global gradient-norm clipping."""

import math

import numpy as np
import pytest

from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import CosineSchedule, OneCycleLR, StepLR, clip_grad_norm


def _param(grad):
    p = Tensor(np.zeros(len(grad), dtype=np.float32), requires_grad=True)
    p.grad = Tensor(np.array(grad, dtype=np.float32))
    return p


def test_step_lr_decays_every_step_size():
    schedule = StepLR(0.1, step_size=2, gamma=0.5)
    assert [schedule.get_lr(e) for e in range(5)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_cosine_starts_at_max_and_ends_at_min():
    schedule = CosineSchedule(max_lr=0.1, min_lr=0.01, total_epochs=10)
    assert schedule.get_lr(0) == pytest.approx(0.1)
    assert schedule.get_lr(10) == pytest.approx(0.01)


def test_cosine_halfway_is_the_midpoint():
    assert CosineSchedule(0.1, 0.01, 10).get_lr(5) == pytest.approx(0.055)


def test_one_cycle_warms_up_to_max_lr():
    schedule = OneCycleLR(max_lr=1.0, total_steps=20, pct_start=0.2)
    assert schedule.get_lr(0) == pytest.approx(1.0 / 25)
    assert schedule.get_lr(4) == pytest.approx(1.0)


def test_one_cycle_ends_far_below_the_start():
    schedule = OneCycleLR(max_lr=1.0, total_steps=20)
    assert schedule.get_lr(20) < schedule.get_lr(0) / 100


def test_step_sets_the_optimizer_learning_rate():
    p = _param([1.0])
    optimizer = SGD([p], lr=123.0)
    schedule = StepLR(0.1, step_size=1, gamma=0.5, optimizer=optimizer)
    assert optimizer.lr == pytest.approx(0.1)
    schedule.step()
    assert optimizer.lr == pytest.approx(0.05)


def test_clip_returns_the_global_norm():
    assert clip_grad_norm([_param([3.0]), _param([4.0])], max_norm=100.0) == pytest.approx(5.0)


def test_clip_scales_all_gradients_together():
    a, b = _param([3.0]), _param([4.0])
    clip_grad_norm([a, b], max_norm=1.0)
    np.testing.assert_allclose([a.grad.data[0], b.grad.data[0]], [0.6, 0.8], rtol=1e-5)


def test_clip_leaves_small_gradients_alone():
    p = _param([0.3, 0.4])
    clip_grad_norm([p], max_norm=1.0)
    np.testing.assert_array_equal(p.grad.data, np.array([0.3, 0.4], dtype=np.float32))


def test_clipped_norm_is_max_norm():
    params = [_param([1.0, -2.0, 2.0]), _param([10.0])]
    clip_grad_norm(params, max_norm=2.0)
    norm = math.sqrt(sum(float((p.grad.data.astype(np.float64) ** 2).sum()) for p in params))
    assert norm == pytest.approx(2.0, rel=1e-5)
