"""Module 03: the Linear layer and its initialisation."""

import numpy as np

from tinytorch.core.layers import Linear
from tinytorch.core.tensor import Tensor


def test_linear_output_shape():
    layer = Linear(4, 3, rng=np.random.default_rng(0))
    assert layer(Tensor(np.ones((5, 4), dtype=np.float32))).shape == (5, 3)


def test_linear_weight_and_bias_shapes():
    layer = Linear(4, 3)
    assert layer.weight.shape == (4, 3) and layer.bias.shape == (3,)


def test_linear_computes_x_times_w_plus_b():
    layer = Linear(2, 2, rng=np.random.default_rng(0))
    layer.weight.data = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    layer.bias.data = np.array([10.0, 20.0], dtype=np.float32)
    np.testing.assert_allclose(layer(Tensor([[1.0, 1.0]])).data, [[14.0, 26.0]])


def test_linear_without_bias():
    layer = Linear(3, 2, bias=False)
    assert layer.bias is None and len(layer.parameters()) == 1


def test_parameters_are_trainable_float32():
    layer = Linear(3, 2)
    assert all(p.requires_grad and p.dtype == np.float32 for p in layer.parameters())


def test_bias_starts_at_zero():
    np.testing.assert_array_equal(Linear(3, 5).bias.data, np.zeros(5))


def test_same_rng_seed_gives_same_weights():
    a = Linear(6, 4, rng=np.random.default_rng(7))
    b = Linear(6, 4, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)


def test_linear_applies_to_a_batch_of_sequences():
    assert Linear(4, 2)(Tensor(np.ones((3, 5, 4), dtype=np.float32))).shape == (3, 5, 2)
