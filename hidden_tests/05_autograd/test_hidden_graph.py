"""Module 05, hidden: the engine on deep, shared and mixed graphs."""

import numpy as np
import pytest

from tinytorch.core.activations import ReLU, Sigmoid
from tinytorch.core.autograd import enable_grad, no_grad, unbroadcast
from tinytorch.core.layers import Linear
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.tensor import Tensor


def test_a_ten_thousand_op_chain_does_not_hit_the_recursion_limit():
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    assert x.grad.item() == pytest.approx(1.0001 ** 10_000, rel=1e-3)


def test_diamond_graph_adds_both_paths():
    x = Tensor([2.0], requires_grad=True)
    a, b = x * 3, x * 4
    (a + b).sum().backward()
    assert x.grad.item() == 7.0


def test_shared_subexpression_is_visited_once_per_use():
    x = Tensor([1.5], requires_grad=True)
    h = x * x
    (h * h + h).sum().backward()
    assert x.grad.item() == pytest.approx(4 * 1.5 ** 3 + 2 * 1.5)


def test_backward_with_an_explicit_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3).backward(Tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.data, [3.0, 30.0])


def test_explicit_gradient_of_the_wrong_shape_is_refused():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError):
        (x * 3).backward(Tensor([1.0, 2.0, 3.0]))


def test_backward_without_requires_grad_is_refused():
    with pytest.raises(RuntimeError, match="no input had requires_grad"):
        (Tensor([1.0]) * 2).sum().backward()


def test_inputs_without_requires_grad_get_no_gradient():
    x, c = Tensor([1.0], requires_grad=True), Tensor([5.0])
    (x * c).sum().backward()
    assert c.grad is None and x.grad.item() == 5.0


def test_unbroadcast_sums_leading_and_stretched_axes():
    grad = np.ones((2, 3, 4))
    assert unbroadcast(grad, (4,)).tolist() == [6.0] * 4
    np.testing.assert_allclose(unbroadcast(grad, (3, 1)), np.full((3, 1), 8.0))
    assert unbroadcast(grad, (2, 3, 4)).shape == (2, 3, 4)


def test_enable_grad_inside_no_grad():
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        with enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            1 / 0
    assert (Tensor([1.0], requires_grad=True) * 2).requires_grad


def test_a_small_network_gets_gradients_on_every_parameter():
    rng = np.random.default_rng(0)
    first, second = Linear(4, 8, rng=rng), Linear(8, 3, rng=rng)
    x = Tensor(rng.standard_normal((5, 4)).astype(np.float32))
    loss = CrossEntropyLoss()(second(Sigmoid()(ReLU()(first(x)))), Tensor([0, 1, 2, 0, 1]))
    loss.backward()
    for p in first.parameters() + second.parameters():
        assert p.grad is not None and p.grad.shape == p.shape and p.grad.dtype == np.float32
        assert np.any(p.grad.data != 0)


def test_max_splits_the_gradient_between_ties():
    x = Tensor([3.0, 1.0, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.data, [0.5, 0.0, 0.5])


def test_repeated_indices_accumulate():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2])].sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 0.0, 1.0])


def test_intermediate_tensors_keep_no_grad():
    x = Tensor([1.0], requires_grad=True)
    h = x * 2
    (h * 3).sum().backward()
    assert h.grad is None and x.grad.item() == 6.0


def test_relu_gradient_at_exactly_zero_is_zero():
    x = Tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    ReLU()(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 1.0])


def test_bce_gradient_is_zero_where_the_prediction_was_clipped():
    from tinytorch.core.losses import BinaryCrossEntropyLoss

    pred = Tensor(np.array([0.0, 0.5, 1.0]), requires_grad=True)
    BinaryCrossEntropyLoss()(pred, Tensor(np.array([1.0, 1.0, 0.0]))).backward()
    assert np.all(np.isfinite(pred.grad.data))
    assert pred.grad.data[0] == 0.0 and pred.grad.data[2] == 0.0 and pred.grad.data[1] < 0


def test_bce_gradient_at_the_clip_bounds_is_still_the_formula():
    """p exactly eps or 1 - eps is inside the clip range: the gradient is (p - t) / (p (1 - p)) / N."""
    from tinytorch.core.losses import BinaryCrossEntropyLoss

    eps = 1e-3
    p = np.array([eps, 1 - eps])
    t = np.array([1.0, 0.0])
    pred = Tensor(p.copy(), requires_grad=True)
    BinaryCrossEntropyLoss(eps=eps)(pred, Tensor(t)).backward()
    np.testing.assert_allclose(pred.grad.data, (p - t) / (p * (1 - p)) / 2, rtol=1e-6)
