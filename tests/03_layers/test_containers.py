"""Module 03: the Layer base, parameters(), Sequential, Dropout and train/eval."""

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Dropout, Layer, Linear, Sequential
from tinytorch.core.tensor import Tensor


class TwoLayer(Layer):
    def __init__(self):
        self.first = Linear(4, 8)
        self.second = Linear(8, 2)

    def forward(self, x):
        return self.second(self.first(x))


def test_parameters_are_found_through_attributes():
    assert len(TwoLayer().parameters()) == 4


def test_named_parameters_use_attribute_paths():
    names = [name for name, _ in TwoLayer().named_parameters()]
    assert names == ["first.weight", "first.bias", "second.weight", "second.bias"]


def test_sequential_applies_layers_in_order():
    model = Sequential(Linear(4, 8), ReLU(), Linear(8, 3))
    assert model(Tensor(np.ones((2, 4), dtype=np.float32))).shape == (2, 3)
    assert len(model.parameters()) == 4 and len(model) == 3


def test_sequential_is_indexable():
    first = Linear(2, 2)
    assert Sequential(first, ReLU())[0] is first


def test_train_and_eval_reach_nested_layers():
    model = Sequential(Linear(2, 2), Dropout(0.5))
    model.eval()
    assert model[1].training is False
    model.train()
    assert model[1].training is True


def test_dropout_is_identity_in_eval_mode():
    dropout = Dropout(0.5)
    dropout.eval()
    x = Tensor(np.ones((4, 4), dtype=np.float32))
    np.testing.assert_array_equal(dropout(x).data, x.data)


def test_dropout_zeroes_some_and_scales_the_rest_in_training():
    out = Dropout(0.5, rng=np.random.default_rng(0))(Tensor(np.ones((100, 100), dtype=np.float32))).data
    assert set(np.unique(out)) <= {0.0, 2.0}
    assert 0.4 < (out == 0).mean() < 0.6


def test_zero_grad_clears_every_parameter():
    model = TwoLayer()
    for p in model.parameters():
        p.grad = Tensor(np.ones_like(p.data))
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
