"""Module 05, hidden: float64 finite-difference checks for every backward rule of modules 01-04."""

import numpy as np
import pytest

from tinytorch.core.activations import GELU, ReLU, Sigmoid, Softmax, Tanh, log_softmax
from tinytorch.core.layers import Dropout, Linear
from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.tensor import Tensor

R = np.random.default_rng(42)


def rand(*shape, low=-1.0, high=1.0):
    return R.uniform(low, high, size=shape)


def _linear(x):
    layer = Linear(3, 2, rng=np.random.default_rng(0))
    layer.weight, layer.bias = Tensor(layer.weight.data.astype(np.float64)), Tensor(np.arange(2.0))
    return layer(x)


def _dropout_eval(x):
    layer = Dropout(0.5)
    layer.eval()
    return layer(x) * 2


TARGETS = np.array([2, 0, 1, 2])
W1, W2 = rand(3, 5), rand(5, 2)

# rule name -> list of (id, function of tensors, input arrays)
CASES = {
    "AddBackward": [("broadcast", lambda a, b: a + b, [rand(3, 4), rand(4)]),
                    ("stretch_one_to_two", lambda a, b: a + b, [rand(3, 1), rand(3, 2)]),
                    ("reflected", lambda a: 2.0 + a, [rand(3)])],
    "SubBackward": [("broadcast", lambda a, b: a - b, [rand(3, 1), rand(1, 4)]),
                    ("reflected", lambda a: 1.0 - a, [rand(3)])],
    "MulBackward": [("broadcast", lambda a, b: a * b, [rand(2, 3), rand(3)]),
                    ("same_tensor", lambda a: a * a, [rand(4)])],
    "DivBackward": [("broadcast", lambda a, b: a / b, [rand(2, 3), rand(2, 1, low=1.0, high=2.0)]),
                    ("reflected", lambda a: 1.0 / a, [rand(3, low=1.0, high=2.0)])],
    "NegBackward": [("neg", lambda a: -a, [rand(3)])],
    "PowBackward": [("square", lambda a: a ** 2, [rand(3)]),
                    ("fractional", lambda a: a ** 1.5, [rand(3, low=0.5, high=2.0)])],
    "ExpBackward": [("exp", lambda a: a.exp(), [rand(2, 3)])],
    "LogBackward": [("log", lambda a: a.log(), [rand(3, low=0.5, high=2.0)])],
    "SqrtBackward": [("sqrt", lambda a: a.sqrt(), [rand(3, low=0.5, high=2.0)])],
    "AbsBackward": [("abs", lambda a: a.abs(), [np.array([-1.5, 0.7, 2.0])])],
    "MatmulBackward": [("matrix", lambda a, b: a @ b, [rand(2, 3), rand(3, 4)]),
                       ("batched_broadcast", lambda a, b: a @ b, [rand(2, 2, 3), rand(3, 4)]),
                       ("vector_right", lambda a, b: a @ b, [rand(2, 3), rand(3)]),
                       ("vector_left", lambda a, b: a @ b, [rand(3), rand(3, 2)]),
                       ("batched_both", lambda a, b: a @ b, [rand(2, 3, 4), rand(2, 4, 5)]),
                       ("batched_times_vector", lambda a, b: a @ b, [rand(2, 3, 4), rand(4)]),
                       ("vector_times_batched", lambda a, b: a @ b, [rand(4), rand(2, 4, 3)]),
                       ("dot_product", lambda a, b: a @ b, [rand(5), rand(5)])],
    "ReshapeBackward": [("reshape", lambda a: a.reshape(3, 2) * Tensor(np.arange(6.0).reshape(3, 2)), [rand(2, 3)]),
                        ("flatten", lambda a: a.flatten(1), [rand(2, 3, 2)])],
    "PermuteBackward": [("transpose", lambda a: a.T, [rand(2, 3)]),
                        ("permute", lambda a: a.permute(2, 0, 1), [rand(2, 3, 4)])],
    "IndexBackward": [("slice", lambda a: a[:, 1:], [rand(3, 3)]),
                      ("repeated_indices", lambda a: a[np.array([0, 2, 0, 0])], [rand(3, 2)])],
    "SumBackward": [("all", lambda a: a.sum(), [rand(2, 3)]),
                    ("axis", lambda a: a.sum(axis=0), [rand(2, 3)]),
                    ("keepdims", lambda a: a.sum(axis=(0, 2), keepdims=True), [rand(2, 3, 2)])],
    "MeanBackward": [("all", lambda a: a.mean(), [rand(2, 3)]),
                     ("axis", lambda a: a.mean(axis=1), [rand(2, 3)]),
                     ("negative_axis_keepdims", lambda a: a.mean(axis=-1, keepdims=True), [rand(2, 3)])],
    "MaxBackward": [("all", lambda a: a.max(), [rand(2, 3)]),
                    ("axis", lambda a: a.max(axis=1), [rand(3, 4)]),
                    ("keepdims", lambda a: a.max(axis=0, keepdims=True), [rand(3, 4)])],
    "ReLUBackward": [("relu", lambda a: ReLU()(a), [np.array([-1.0, -0.2, 0.3, 2.0])])],
    "SigmoidBackward": [("sigmoid", lambda a: Sigmoid()(a), [rand(2, 3, low=-4, high=4)])],
    "TanhBackward": [("tanh", lambda a: Tanh()(a), [rand(2, 3, low=-2, high=2)])],
    "GELUBackward": [("gelu", lambda a: GELU()(a), [rand(2, 3, low=-3, high=3)])],
    "SoftmaxBackward": [("last_dim", lambda a: Softmax()(a), [rand(2, 4)]),
                        ("first_dim", lambda a: Softmax(dim=0)(a), [rand(3, 2)])],
    "LogSoftmaxBackward": [("log_softmax", lambda a: log_softmax(a), [rand(2, 4)])],
    "CrossEntropyBackward": [("cross_entropy", lambda a: CrossEntropyLoss()(a, TARGETS), [rand(4, 3)])],
    "BCEBackward": [("bce", lambda a, t: BinaryCrossEntropyLoss()(a, t.detach()), [rand(5, low=0.1, high=0.9), rand(5, low=0, high=1)])],
}

LAYER_CASES = [
    ("mse", lambda a, b: MSELoss()(a, b.detach()), [rand(3, 2), rand(3, 2)]),
    ("linear", _linear, [rand(4, 3)]),
    ("dropout_eval", _dropout_eval, [rand(3)]),
    ("mlp", lambda x: Softmax()(Tanh()(x @ Tensor(W1)) @ Tensor(W2)), [rand(4, 3)]),
]

FLAT = [(rule, name, fn, arrays) for rule, cases in CASES.items() for name, fn, arrays in cases]


@pytest.mark.parametrize("rule,name,fn,arrays", FLAT, ids=[f"{r}-{n}" for r, n, _, _ in FLAT])
def test_rule_matches_finite_differences(gradcheck, rule, name, fn, arrays):
    wrt = [0] if rule == "BCEBackward" else None
    assert gradcheck(fn, *arrays, wrt=wrt)


@pytest.mark.parametrize("name,fn,arrays", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_composite_matches_finite_differences(gradcheck, name, fn, arrays):
    wrt = [0] if name == "mse" else None
    assert gradcheck(fn, *arrays, wrt=wrt)
