"""Module 02: softmax along any dimension."""

import numpy as np

from tinytorch.core.activations import Softmax, log_softmax, softmax
from tinytorch.core.tensor import Tensor


def test_softmax_rows_sum_to_one():
    out = Softmax()(Tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(out.data.sum(axis=1), [1.0, 1.0], rtol=1e-6)


def test_softmax_values():
    x = np.array([1.0, 2.0, 3.0])
    expected = np.exp(x) / np.exp(x).sum()
    np.testing.assert_allclose(softmax(Tensor(x.astype(np.float32))).data, expected, rtol=1e-6)


def test_uniform_logits_give_uniform_probabilities():
    np.testing.assert_allclose(softmax(Tensor(np.zeros(4, dtype=np.float32))).data, [0.25] * 4)


def test_softmax_along_the_first_dimension():
    x = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_allclose(Softmax(dim=0)(x).data.sum(axis=0), [1, 1, 1], rtol=1e-6)


def test_log_softmax_is_the_log_of_softmax():
    x = Tensor(np.array([[0.5, -1.0, 2.0]], dtype=np.float32))
    np.testing.assert_allclose(log_softmax(x).data, np.log(softmax(x).data), rtol=1e-5)
