"""Module 16: the distillation loss against its formula, and its gradient against finite differences."""

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor
from tinytorch.perf.compression import distillation_loss


def log_softmax(z):
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def expected_loss(student, teacher, targets, temperature, alpha):
    log_p_teacher, log_p_student = log_softmax(teacher / temperature), log_softmax(student / temperature)
    kl = (np.exp(log_p_teacher) * (log_p_teacher - log_p_student)).sum() / len(student)
    cross_entropy = -log_softmax(student)[np.arange(len(student)), targets].mean()
    return alpha * temperature ** 2 * kl + (1 - alpha) * cross_entropy


@pytest.mark.parametrize("temperature,alpha", [(4.0, 0.5), (1.0, 0.9), (2.0, 0.0)])
def test_distillation_loss_matches_the_formula(rng, temperature, alpha):
    student, teacher = rng.standard_normal((6, 5)), rng.standard_normal((6, 5)) * 3
    targets = rng.integers(0, 5, 6)
    loss = distillation_loss(Tensor(student), Tensor(teacher), targets, temperature=temperature, alpha=alpha)
    assert loss.shape == () and loss.item() == pytest.approx(expected_loss(student, teacher, targets, temperature, alpha), rel=1e-6)


def test_soft_term_vanishes_when_the_student_matches_the_teacher(rng):
    logits = rng.standard_normal((4, 3))
    loss = distillation_loss(Tensor(logits, requires_grad=True), Tensor(logits), np.zeros(4, dtype=np.int64), alpha=1.0)
    assert loss.item() == pytest.approx(0.0, abs=1e-10)


def test_distillation_loss_gradient(rng, gradcheck):
    teacher, targets = rng.standard_normal((4, 5)) * 2, rng.integers(0, 5, 4)
    gradcheck(lambda s: distillation_loss(s, teacher, targets, temperature=3.0, alpha=0.7), rng.standard_normal((4, 5)))


def test_the_teacher_gets_no_gradient(rng):
    student = Tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    teacher = Tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    distillation_loss(student, teacher, np.array([0, 1, 2])).backward()
    assert student.grad is not None and teacher.grad is None
