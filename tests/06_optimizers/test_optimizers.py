"""Module 06: SGD, Adam and AdamW updates, zero_grad."""

import numpy as np
import pytest
from tinytorch_grader.testkit import object_id

from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.tensor import Tensor


def _param(values=(1.0, 2.0), grad=(0.5, -1.0)):
    p = Tensor(np.array(values, dtype=np.float32), requires_grad=True)
    p.grad = Tensor(np.array(grad, dtype=np.float32))
    return p


def test_sgd_step_moves_against_the_gradient():
    p = _param()
    SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [0.95, 2.1], rtol=1e-6)


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1), lambda ps: SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: Adam(ps, lr=0.1), lambda ps: AdamW(ps, lr=0.1, weight_decay=0.1)],
                         ids=["SGD", "SGD-momentum", "Adam", "AdamW"])
def test_every_optimizer_updates_its_parameters_in_place(make):
    """A step writes into the parameter's own array: no new array per step (memory), and every view
    of the parameter (a tied weight, a checkpoint buffer) sees the update."""
    p = _param()
    before = object_id(p, "data")
    optimizer = make([p])
    for _ in range(2):
        optimizer.step()
    assert object_id(p, "data") == before, "step() replaced p.data by a new array; update it in place (p.data -= ...)"


def test_zero_grad_clears_gradients():
    p = _param()
    opt = SGD([p], lr=0.1)
    opt.zero_grad()
    assert p.grad is None


def test_parameters_without_gradient_are_skipped():
    p, q = _param(), Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    SGD([p, q], lr=0.1).step()
    np.testing.assert_array_equal(q.data, [1.0, 1.0])


def test_adam_first_step_is_lr_times_the_sign():
    p = _param()
    Adam([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [0.9, 2.1], rtol=1e-6)


def test_adamw_decays_weights_before_the_step():
    p = _param()
    AdamW([p], lr=0.1, weight_decay=0.1).step()
    np.testing.assert_allclose(p.data, [0.89, 2.08], rtol=1e-6)


def test_sgd_minimises_a_quadratic():
    x = Tensor(np.array([5.0], dtype=np.float32), requires_grad=True)
    opt = SGD([x], lr=0.1)
    for _ in range(100):
        opt.zero_grad()
        ((x - 3.0) ** 2).sum().backward()
        opt.step()
    assert x.item() == pytest.approx(3.0, abs=1e-3)
