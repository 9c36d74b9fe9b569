"""Module 07 (hidden): schedule values at specific steps, clamping, and clipping edge cases."""

import math

import numpy as np
import pytest

from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import CosineSchedule, OneCycleLR, StepLR, clip_grad_norm


def _param(grad, dtype=np.float32):
    p = Tensor(np.zeros(np.shape(grad), dtype=dtype), requires_grad=True)
    p.grad = Tensor(np.array(grad, dtype=dtype))
    return p


def test_step_lr_with_step_size_three():
    schedule = StepLR(1.0, step_size=3, gamma=0.1)
    assert [schedule.get_lr(e) for e in (0, 2, 3, 5, 6, 9)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.001])


def test_cosine_quarter_point():
    expected = 0.0 + 1.0 * (1 + math.cos(math.pi / 4)) / 2
    assert CosineSchedule(1.0, 0.0, 8).get_lr(2) == pytest.approx(expected)


def test_cosine_stays_at_min_after_the_last_epoch():
    schedule = CosineSchedule(0.1, 0.01, 10)
    assert schedule.get_lr(25) == pytest.approx(0.01)


def test_cosine_decreases_monotonically():
    lrs = [CosineSchedule(0.1, 0.001, 20).get_lr(e) for e in range(21)]
    assert all(a > b for a, b in zip(lrs, lrs[1:]))


def test_one_cycle_warmup_is_linear():
    schedule = OneCycleLR(max_lr=1.0, total_steps=20, pct_start=0.2)
    assert schedule.get_lr(2) == pytest.approx(0.04 + 0.96 / 2)


def test_one_cycle_midway_through_the_decay():
    schedule = OneCycleLR(max_lr=1.0, total_steps=20, pct_start=0.2)
    end = 0.04 / 1e4
    assert schedule.get_lr(12) == pytest.approx(end + (1.0 - end) / 2)


def test_one_cycle_final_rate_and_clamp():
    schedule = OneCycleLR(max_lr=2.0, total_steps=10, pct_start=0.3)
    end = 2.0 / 25 / 1e4
    assert schedule.get_lr(10) == pytest.approx(end)
    assert schedule.get_lr(50) == pytest.approx(end)


def test_one_cycle_peaks_at_the_end_of_warmup():
    schedule = OneCycleLR(max_lr=1.0, total_steps=100, pct_start=0.3)
    lrs = [schedule.get_lr(s) for s in range(101)]
    assert int(np.argmax(lrs)) == 30


def test_schedule_attached_to_an_optimizer_starts_it_at_lr_zero():
    optimizer = SGD([_param([1.0])], lr=5.0)
    OneCycleLR(max_lr=1.0, total_steps=10, optimizer=optimizer)
    assert optimizer.lr == pytest.approx(0.04)


def test_repeated_steps_follow_get_lr():
    optimizer = SGD([_param([1.0])], lr=1.0)
    schedule = CosineSchedule(1.0, 0.0, 4, optimizer=optimizer)
    seen = [schedule.step() for _ in range(4)]
    assert seen == pytest.approx([schedule.get_lr(e) for e in range(1, 5)])
    assert optimizer.lr == pytest.approx(0.0)


def test_clip_keeps_float32_gradients_float32():
    p = _param([30.0, 40.0])
    clip_grad_norm([p], max_norm=1.0)
    assert p.grad.data.dtype == np.float32


def test_clip_handles_huge_gradients_without_overflow():
    p = _param([3e30, 4e30])
    norm = clip_grad_norm([p], max_norm=1.0)
    assert norm == pytest.approx(5e30, rel=1e-5)
    np.testing.assert_allclose(p.grad.data, [0.6, 0.8], rtol=1e-5)


def test_clip_skips_parameters_without_gradients():
    a = _param([3.0, 4.0])
    b = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    assert clip_grad_norm([a, b], max_norm=10.0) == pytest.approx(5.0)


def test_clip_accepts_a_generator():
    params = [_param([6.0]), _param([8.0])]
    assert clip_grad_norm((p for p in params), max_norm=1.0) == pytest.approx(10.0)
    np.testing.assert_allclose(params[1].grad.data, [0.8], rtol=1e-5)


def test_clip_modifies_gradients_in_place():
    p = _param([3.0, 4.0])
    grad = p.grad
    clip_grad_norm([p], max_norm=1.0)
    assert p.grad is grad


def test_clip_over_matrices_uses_every_entry():
    p = _param(np.full((2, 2), 2.0))
    assert clip_grad_norm([p], max_norm=100.0) == pytest.approx(4.0)


def test_one_cycle_without_warmup_starts_at_max_lr():
    schedule = OneCycleLR(0.1, total_steps=10, pct_start=0.0, optimizer=SGD([_param([1.0])], lr=1.0))
    assert schedule.get_lr(0) == pytest.approx(0.1)
    assert schedule.optimizer.lr == pytest.approx(0.1)


def test_one_cycle_with_a_one_step_warmup():
    schedule = OneCycleLR(0.1, total_steps=10, pct_start=0.1)  # warm = 1 step
    assert schedule.get_lr(0) == pytest.approx(0.1 / 25)
    assert schedule.get_lr(1) == pytest.approx(0.1)
