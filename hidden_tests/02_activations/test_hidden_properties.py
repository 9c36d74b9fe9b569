"""Module 02, hidden: shapes, dtypes, graph recording and mathematical properties."""

import numpy as np
import pytest

from tinytorch.core.activations import GELU, ReLU, Sigmoid, Softmax, Tanh, log_softmax, softmax
from tinytorch.core.tensor import Tensor

ACTIVATIONS = [ReLU(), Sigmoid(), Tanh(), GELU(), Softmax()]


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=repr)
def test_float32_in_float32_out(activation):
    assert activation(Tensor(np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4))).dtype == np.float32


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=repr)
def test_input_is_not_modified(activation):
    data = np.linspace(-3, 3, 6, dtype=np.float32)
    x = Tensor(data.copy())
    activation(x)
    np.testing.assert_array_equal(x.data, data)


@pytest.mark.parametrize("activation,rule", [(ReLU(), "ReLUBackward"), (Sigmoid(), "SigmoidBackward"),
                                             (Tanh(), "TanhBackward"), (GELU(), "GELUBackward"),
                                             (Softmax(), "SoftmaxBackward")], ids=lambda v: str(v))
def test_output_records_its_backward_rule(activation, rule):
    out = activation(Tensor([[0.5, -0.5]], requires_grad=True))
    assert out.requires_grad and out.grad_fn.name == rule


def test_log_softmax_records_its_backward_rule():
    assert log_softmax(Tensor([[0.5, -0.5]], requires_grad=True)).grad_fn.name == "LogSoftmaxBackward"


def test_sigmoid_is_symmetric():
    x = np.linspace(-6, 6, 13, dtype=np.float32)
    np.testing.assert_allclose(Sigmoid()(Tensor(x)).data + Sigmoid()(Tensor(-x)).data, 1.0, rtol=1e-6)


def test_tanh_is_odd():
    x = np.linspace(-3, 3, 7, dtype=np.float32)
    np.testing.assert_allclose(Tanh()(Tensor(-x)).data, -Tanh()(Tensor(x)).data, rtol=1e-6)


def test_gelu_at_one_matches_the_known_value():
    assert GELU()(Tensor([1.0])).data[0] == pytest.approx(0.8411920, rel=1e-5)


def test_softmax_over_a_middle_dimension():
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32))
    np.testing.assert_allclose(softmax(x, dim=1).data.sum(axis=1), np.ones((2, 4)), rtol=1e-5)


def test_softmax_of_a_batch_is_independent_per_row():
    x = np.array([[1.0, 2.0], [100.0, 100.0]], dtype=np.float32)
    out = softmax(Tensor(x)).data
    np.testing.assert_allclose(out[1], [0.5, 0.5])
    np.testing.assert_allclose(out[0], softmax(Tensor(x[:1])).data[0], rtol=1e-6)


def test_relu_of_float64_stays_float64():
    assert ReLU()(Tensor(np.array([-1.0, 1.0]))).dtype == np.float64


def _log_softmax_by_rows(x: np.ndarray) -> np.ndarray:
    """log_softmax of each row on its own, in float64: the oracle for batched inputs."""
    rows = x.astype(np.float64)
    return np.stack([row - row.max() - np.log(np.exp(row - row.max()).sum()) for row in rows])


def test_log_softmax_of_a_non_square_batch_is_computed_per_row():
    x = np.random.default_rng(1).standard_normal((3, 5)).astype(np.float32) * 4
    np.testing.assert_allclose(log_softmax(Tensor(x)).data, _log_softmax_by_rows(x), rtol=1e-5, atol=1e-5)


def test_log_softmax_along_the_first_dimension():
    x = np.random.default_rng(2).standard_normal((4, 2)).astype(np.float32) * 4
    np.testing.assert_allclose(log_softmax(Tensor(x), dim=0).data, _log_softmax_by_rows(x.T).T, rtol=1e-5, atol=1e-5)
