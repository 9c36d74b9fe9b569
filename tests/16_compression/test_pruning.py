"""Module 16: magnitude pruning, global and per layer, and masks that survive fine-tuning."""

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Tensor
from tinytorch.perf.compression import keep_mask, magnitude_prune, sparsity


def mlp(rng):
    model = Sequential(Linear(10, 20, rng=rng), ReLU(), Linear(20, 4, rng=rng))
    for layer in (model.layers[0], model.layers[2]):
        layer.bias.data = rng.uniform(0.001, 0.002, size=layer.bias.shape).astype(np.float32)  # tiny but not zero
    return model


def test_sparsity_of_an_array():
    assert sparsity(np.array([0.0, 1.0, 0.0, -2.0])) == pytest.approx(0.5)


def test_sparsity_of_a_model_counts_weights_not_biases(rng):
    model = mlp(rng)
    model.layers[0].bias.data = np.zeros(20, dtype=np.float32)
    weight = np.array(model.layers[2].weight.data)
    weight[:10] = 0
    model.layers[2].weight.data = weight
    assert sparsity(model) == pytest.approx(10 * 4 / (10 * 20 + 20 * 4))


def test_keep_mask_drops_exactly_the_smallest():
    mask = keep_mask(np.array([[0.5, 0.1], [0.9, 0.3]]), 0.5)
    assert mask.tolist() == [[True, False], [True, False]]


def test_magnitude_prune_zeroes_the_requested_fraction(rng):
    model = mlp(rng)
    masks = magnitude_prune(model, 0.75)
    assert sparsity(model) == pytest.approx(0.75, abs=1 / 280)
    assert masks.sparsity == pytest.approx(sparsity(model))


def test_magnitude_prune_removes_the_smallest_weights(rng):
    model = mlp(rng)
    before = np.concatenate([model.layers[0].weight.data.ravel(), model.layers[2].weight.data.ravel()])
    magnitude_prune(model, 0.5)
    after = np.concatenate([model.layers[0].weight.data.ravel(), model.layers[2].weight.data.ravel()])
    pruned = after == 0
    assert np.abs(before[pruned]).max() <= np.abs(before[~pruned]).min()


def test_magnitude_prune_never_touches_biases(rng):
    model = mlp(rng)
    biases = [model.layers[0].bias.data.copy(), model.layers[2].bias.data.copy()]
    magnitude_prune(model, 0.9)
    np.testing.assert_array_equal(model.layers[0].bias.data, biases[0])
    np.testing.assert_array_equal(model.layers[2].bias.data, biases[1])


def test_global_and_layer_scope_differ_as_they_should(rng):
    """A layer of tiny weights is wiped out by a global threshold but keeps half under scope='layer'."""
    def model():
        m = Sequential(Linear(10, 10, rng=np.random.default_rng(1)), Linear(10, 10, rng=np.random.default_rng(2)))
        m.layers[0].weight.data = m.layers[0].weight.data * np.float32(0.001)
        return m

    global_model, layer_model = model(), model()
    magnitude_prune(global_model, 0.5, scope="global")
    magnitude_prune(layer_model, 0.5, scope="layer")
    assert sparsity(global_model.layers[0].weight) == pytest.approx(1.0)
    assert sparsity(global_model.layers[1].weight) == pytest.approx(0.0)
    assert sparsity(layer_model.layers[0].weight) == pytest.approx(0.5)
    assert sparsity(layer_model.layers[1].weight) == pytest.approx(0.5)


def test_masks_keep_pruned_weights_at_zero_while_fine_tuning(rng):
    model = mlp(rng)
    masks = magnitude_prune(model, 0.8)
    optimizer = SGD(model.parameters(), lr=0.1)
    x, y = Tensor(rng.standard_normal((16, 10)).astype(np.float32)), rng.integers(0, 4, 16)
    for _ in range(3):
        optimizer.zero_grad()
        CrossEntropyLoss()(model(x), y).backward()
        optimizer.step()
        assert sparsity(model) < 0.8  # the step revived pruned weights ...
        masks.apply()
        assert sparsity(model) == pytest.approx(0.8, abs=1 / 280)  # ... and the masks zero them again


@pytest.mark.parametrize("amount,scope", [(1.0, "global"), (-0.1, "global"), (0.5, "everything")])
def test_magnitude_prune_refuses_bad_arguments(rng, amount, scope):
    with pytest.raises(ValueError):
        magnitude_prune(mlp(rng), amount, scope=scope)
