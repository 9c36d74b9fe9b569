"""Module 06, hidden: updates against values computed by hand, state and errors."""

import numpy as np
import pytest

from tinytorch.core.layers import Linear
from tinytorch.core.losses import MSELoss
from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.tensor import Tensor


def _param(values=(1.0, 2.0), grad=(0.5, -1.0)):
    p = Tensor(np.array(values, dtype=np.float32), requires_grad=True)
    p.grad = Tensor(np.array(grad, dtype=np.float32))
    return p


def _steps(opt, p, n):
    for _ in range(n):
        opt.step()
    return p.data


def test_sgd_momentum_two_steps():
    p = _param()
    np.testing.assert_allclose(_steps(SGD([p], lr=0.1, momentum=0.9), p, 2), [0.855, 2.29], rtol=1e-5)


def test_sgd_nesterov_two_steps():
    p = _param()
    np.testing.assert_allclose(_steps(SGD([p], lr=0.1, momentum=0.9, nesterov=True), p, 2), [0.7695, 2.461], rtol=1e-5)


def test_sgd_weight_decay_adds_l2_to_the_gradient():
    p = _param()
    np.testing.assert_allclose(_steps(SGD([p], lr=0.1, weight_decay=0.1), p, 1), [0.94, 2.08], rtol=1e-6)


def test_adam_constant_gradient_moves_lr_per_step():
    p = _param()
    np.testing.assert_allclose(_steps(Adam([p], lr=0.1), p, 2), [0.8, 2.2], rtol=1e-5)


def test_adam_adds_eps_to_the_root_of_v():
    """A gradient as small as eps: the first step is lr * g / (|g| + eps) = lr / 2."""
    p = _param(values=(0.0,), grad=(1e-8,))
    Adam([p], lr=0.1, eps=1e-8).step()
    assert p.data[0] == pytest.approx(-0.05, rel=1e-3)


def test_adam_bias_correction_with_a_changing_gradient():
    p = _param(values=(0.0,), grad=(1.0,))
    opt = Adam([p], lr=0.1)
    opt.step()
    p.grad = Tensor(np.array([-1.0], dtype=np.float32))
    opt.step()
    assert p.data[0] == pytest.approx(-0.1 + 0.1 * 0.01 / 0.19, rel=1e-4)


def test_adam_l2_differs_from_adamw_decoupled_decay():
    p, q = _param(), _param()
    Adam([p], lr=0.1, weight_decay=0.1).step()
    AdamW([q], lr=0.1, weight_decay=0.1).step()
    np.testing.assert_allclose(p.data, [0.9, 2.1], rtol=1e-6)
    np.testing.assert_allclose(q.data, [0.89, 2.08], rtol=1e-6)


@pytest.mark.parametrize("make", [lambda p: SGD([p], lr=0.1, momentum=0.9), lambda p: Adam([p]), lambda p: AdamW([p])],
                         ids=["sgd", "adam", "adamw"])
def test_updates_keep_float32(make):
    p = _param()
    make(p).step()
    assert p.data.dtype == np.float32


def test_state_dict_round_trip_continues_identically():
    p, q = _param(), _param()
    a = Adam([p], lr=0.05)
    a.step()
    b = Adam([q], lr=0.3)
    b.load_state_dict(a.state_dict())
    q.data = np.array(p.data)
    a.step()
    b.step()
    np.testing.assert_array_equal(p.data, q.data)
    assert b.lr == 0.05 and b.step_count == 2


def test_state_dict_holds_copies():
    p = _param()
    opt = SGD([p], lr=0.1, momentum=0.9)
    opt.step()
    saved = opt.state_dict()
    opt.step()
    np.testing.assert_allclose(saved["state"][0]["velocity"], [0.5, -1.0])


def test_empty_parameter_list_is_refused():
    with pytest.raises(ValueError):
        SGD([], lr=0.1)


def test_parameter_without_requires_grad_is_refused():
    with pytest.raises(ValueError):
        Adam([Tensor([1.0])])


def test_negative_learning_rate_is_refused():
    with pytest.raises(ValueError):
        SGD([_param()], lr=-1.0)


def test_zero_learning_rate_is_accepted_and_leaves_parameters_alone():
    """lr = 0 is legal (a warm-up schedule starts there): the step changes nothing."""
    p = _param()
    np.testing.assert_array_equal(_steps(SGD([p], lr=0.0), p, 1), [1.0, 2.0])


def test_adam_fits_a_linear_regression():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32) + 0.3
    model = Linear(3, 1, rng=rng)
    opt = Adam(model.parameters(), lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        loss = MSELoss()(model(Tensor(x)), Tensor(y))
        loss.backward()
        opt.step()
    assert loss.item() < 1e-3
