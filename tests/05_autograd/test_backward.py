"""Module 05: backward() fills .grad through the graph."""

import numpy as np
import pytest

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor


def test_gradient_of_a_product():
    a, b = Tensor([2.0], requires_grad=True), Tensor([3.0], requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.item() == 3.0 and b.grad.item() == 2.0


def test_chain_rule_through_several_ops():
    x = Tensor([1.0, 2.0], requires_grad=True)
    ((x * 3 + 1) ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * (3 * x.data + 1) * 3)


def test_gradient_of_a_mean():
    x = Tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    x.mean().backward()
    np.testing.assert_allclose(x.grad.data, [0.25] * 4)


def test_gradients_accumulate_across_backward_calls():
    x = Tensor([1.0], requires_grad=True)
    (x * 2).sum().backward()
    (x * 5).sum().backward()
    assert x.grad.item() == 7.0


def test_zero_grad_resets_the_gradient():
    x = Tensor([1.0], requires_grad=True)
    (x * 2).sum().backward()
    x.zero_grad()
    assert x.grad is None


def test_a_tensor_used_twice_gets_both_contributions():
    x = Tensor([3.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.item() == 6.0


def test_broadcast_operand_gets_gradient_in_its_own_shape():
    w = Tensor(np.ones((4, 3), dtype=np.float32), requires_grad=True)
    b = Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    (w + b).sum().backward()
    assert b.grad.shape == (3,)
    np.testing.assert_allclose(b.grad.data, [4, 4, 4])


def test_matmul_gradients():
    a = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    b = Tensor(np.full((3, 4), 2.0, dtype=np.float32), requires_grad=True)
    (a @ b).sum().backward()
    np.testing.assert_allclose(a.grad.data, np.full((2, 3), 8.0))
    np.testing.assert_allclose(b.grad.data, np.full((3, 4), 2.0))


def test_no_grad_records_no_graph():
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None


def test_backward_of_a_non_scalar_needs_a_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="gradient argument"):
        (x * 2).backward()


def test_gradient_keeps_the_parameter_dtype():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    (x * 2.5).sum().backward()
    assert x.grad.dtype == np.float32
