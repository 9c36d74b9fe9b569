"""Module 02, hidden: no overflow, inf or NaN at extreme inputs."""

import warnings

import numpy as np
import pytest

from tinytorch.core.activations import GELU, Sigmoid, Tanh, log_softmax, softmax
from tinytorch.core.tensor import Tensor

EXTREME = Tensor(np.array([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype=np.float32))


def _quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            return fn()


def test_sigmoid_of_extreme_values_raises_no_overflow():
    out = _quiet(lambda: Sigmoid()(EXTREME)).data
    np.testing.assert_allclose(out, [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-30)


def test_sigmoid_of_very_negative_input_is_tiny_but_not_negative():
    out = _quiet(lambda: Sigmoid()(Tensor([-80.0]))).data[0]
    assert 0.0 <= out < 1e-30


def test_tanh_saturates_at_plus_minus_one():
    np.testing.assert_allclose(Tanh()(EXTREME).data[[0, 4]], [-1.0, 1.0])


def test_gelu_is_finite_at_extreme_values():
    with np.errstate(over="ignore"):
        out = GELU()(Tensor([-50.0, 50.0])).data
    assert np.all(np.isfinite(out))


def test_softmax_of_huge_logits_is_finite():
    out = _quiet(lambda: softmax(Tensor([[1000.0, 1001.0, 1002.0]]))).data
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out.sum(), 1.0, rtol=1e-6)


def test_softmax_is_shift_invariant():
    x = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    np.testing.assert_allclose(softmax(Tensor(x + 500)).data, softmax(Tensor(x)).data, rtol=1e-5)


def test_softmax_of_very_negative_logits_is_finite():
    out = _quiet(lambda: softmax(Tensor([[-1000.0, -1000.0]]))).data
    np.testing.assert_allclose(out, [[0.5, 0.5]])


def test_log_softmax_stays_finite_where_softmax_underflows():
    out = log_softmax(Tensor([[0.0, 200.0]])).data
    assert np.all(np.isfinite(out))
    assert out[0, 0] == pytest.approx(-200.0, rel=1e-5)
