"""Module 02: ReLU, Sigmoid, Tanh and GELU on ordinary inputs."""

import numpy as np
import pytest

from tinytorch.core.activations import GELU, ReLU, Sigmoid, Tanh
from tinytorch.core.tensor import Tensor

X = Tensor([-2.0, -0.5, 0.0, 0.5, 2.0])


def test_relu_zeroes_negatives_and_keeps_positives():
    np.testing.assert_allclose(ReLU()(X).data, [0, 0, 0, 0.5, 2.0])


def test_sigmoid_values():
    np.testing.assert_allclose(Sigmoid()(X).data, 1 / (1 + np.exp(-X.data)), rtol=1e-6)


def test_sigmoid_of_zero_is_one_half():
    assert Sigmoid()(Tensor([0.0])).data[0] == pytest.approx(0.5)


def test_tanh_values():
    np.testing.assert_allclose(Tanh()(X).data, np.tanh(X.data), rtol=1e-6)


def test_gelu_values_match_the_tanh_approximation():
    x = X.data.astype(np.float64)
    expected = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(GELU()(X).data, expected, rtol=1e-5, atol=1e-7)


def test_gelu_is_close_to_relu_far_from_zero():
    out = GELU()(Tensor([-10.0, 10.0])).data
    np.testing.assert_allclose(out, [0.0, 10.0], atol=1e-4)


@pytest.mark.parametrize("activation", [ReLU(), Sigmoid(), Tanh(), GELU()], ids=repr)
def test_activation_keeps_shape(activation):
    assert activation(Tensor(np.zeros((2, 3, 4), dtype=np.float32))).shape == (2, 3, 4)
