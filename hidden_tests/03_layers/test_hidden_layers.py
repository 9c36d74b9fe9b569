"""Module 03, hidden: initialisation statistics, seeding, dropout scaling and nesting."""

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Dropout, Layer, Linear, Sequential
from tinytorch.core.tensor import Tensor


def test_xavier_initialisation_has_std_sqrt_one_over_fan_in():
    w = Linear(400, 300, rng=np.random.default_rng(0)).weight.data
    assert w.std() == pytest.approx(np.sqrt(1 / 400), rel=0.05)
    assert abs(w.mean()) < 0.005


def test_he_initialisation_has_std_sqrt_two_over_fan_in():
    w = Linear(400, 300, rng=np.random.default_rng(0), init="he").weight.data
    assert w.std() == pytest.approx(np.sqrt(2 / 400), rel=0.05)


def test_unknown_init_is_refused():
    with pytest.raises(ValueError):
        Linear(2, 2, init="uniform")


def test_different_seeds_give_different_weights():
    a = Linear(5, 5, rng=np.random.default_rng(1)).weight.data
    b = Linear(5, 5, rng=np.random.default_rng(2)).weight.data
    assert not np.allclose(a, b)


def test_linear_forward_matches_numpy():
    rng = np.random.default_rng(3)
    layer = Linear(5, 4, rng=rng)
    layer.bias.data = rng.standard_normal(4).astype(np.float32)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    np.testing.assert_allclose(layer(Tensor(x)).data, x @ layer.weight.data + layer.bias.data, rtol=1e-5)


def test_linear_output_is_tracked():
    out = Linear(3, 2)(Tensor(np.ones((1, 3), dtype=np.float32)))
    assert out.requires_grad and out.grad_fn is not None


def test_linear_keeps_float32():
    assert Linear(3, 2)(Tensor(np.ones((2, 3), dtype=np.float32))).dtype == np.float32


def test_dropout_keeps_the_expected_value():
    out = Dropout(0.3, rng=np.random.default_rng(0))(Tensor(np.ones((200, 200), dtype=np.float32))).data
    assert out.mean() == pytest.approx(1.0, abs=0.02)
    np.testing.assert_allclose(np.unique(out), [0.0, 1 / 0.7], rtol=1e-6)


def test_dropout_zero_is_identity_in_training():
    x = Tensor(np.arange(4, dtype=np.float32))
    np.testing.assert_array_equal(Dropout(0.0)(x).data, x.data)


def test_dropout_refuses_probability_one():
    with pytest.raises(ValueError):
        Dropout(1.0)


def test_dropout_output_is_tracked():
    out = Dropout(0.5)(Tensor(np.ones((4, 4), dtype=np.float32), requires_grad=True))
    assert out.requires_grad


def test_shared_parameters_are_listed_once():
    shared = Linear(3, 3)
    model = Sequential(shared, ReLU(), shared)
    assert len(model.parameters()) == 2


class Deep(Layer):
    def __init__(self):
        self.blocks = [Sequential(Linear(2, 2), Dropout(0.1)) for _ in range(3)]
        self.head = Linear(2, 1)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def test_parameters_in_lists_of_layers_are_found():
    assert len(Deep().parameters()) == 8


def test_eval_reaches_layers_inside_lists():
    model = Deep().eval()
    assert all(block[1].training is False for block in model.blocks)


def test_train_returns_the_layer():
    model = Deep()
    assert model.train() is model


def test_untrainable_tensors_are_not_parameters():
    class WithBuffer(Layer):
        def __init__(self):
            self.scale = Tensor([2.0])
            self.layer = Linear(1, 1)

    assert len(WithBuffer().parameters()) == 2


def test_dropout_zero_draws_nothing_from_its_generator():
    """p == 0 is the identity: it must not consume the shared generator (other layers' masks would shift)."""
    drop = Dropout(0.0, rng=np.random.default_rng(5))
    before = drop.rng.bit_generator.state
    x = Tensor(np.ones((3, 4), dtype=np.float32))
    np.testing.assert_array_equal(drop(x).data, x.data)
    assert drop.rng.bit_generator.state == before
