"""Module 16: structured pruning removes whole channels and the next layer's matching inputs."""

import copy

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.spatial import Conv2d, Flatten, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.perf.compression import channel_norms, prune_channels


def without_channels(model, layer_index, consumer_index, dropped, positions=1):
    """The original model with the dropped channels cut off at the consumer's inputs (what pruning must equal)."""
    reference = copy.deepcopy(model)
    consumer = reference.layers[consumer_index]
    weight = np.array(consumer.weight.data)
    if isinstance(consumer, Linear):
        rows = (np.asarray(dropped)[:, None] * positions + np.arange(positions)).ravel()
        weight[rows] = 0
    else:
        weight[:, dropped] = 0
    consumer.weight.data = weight
    return reference


def test_channel_norms_of_a_linear_are_column_norms():
    layer = Linear(2, 3)
    layer.weight.data = np.array([[3.0, 0.0, 1.0], [4.0, 2.0, 1.0]], dtype=np.float32)
    np.testing.assert_allclose(channel_norms(layer), [5.0, 2.0, np.sqrt(2)])


def test_channel_norms_of_a_conv_are_filter_norms(rng):
    conv = Conv2d(2, 3, 2, rng=rng)
    expected = [np.sqrt((conv.weight.data[f] ** 2).sum()) for f in range(3)]
    np.testing.assert_allclose(channel_norms(conv), expected, rtol=1e-6)


def test_prune_channels_shrinks_a_linear_and_its_consumer(rng):
    model = Sequential(Linear(6, 8, rng=rng), ReLU(), Linear(8, 3, rng=rng))
    norms = channel_norms(model.layers[0])
    keep = prune_channels(model, 0, 0.5)
    assert keep.tolist() == sorted(np.argsort(norms)[-4:].tolist())
    assert model.layers[0].weight.shape == (6, 4) and model.layers[0].bias.shape == (4,)
    assert model.layers[2].weight.shape == (4, 3)


def test_pruned_mlp_computes_what_the_original_does_without_those_units(rng):
    model = Sequential(Linear(6, 8, rng=rng), ReLU(), Linear(8, 3, rng=rng))
    original = copy.deepcopy(model)
    keep = prune_channels(model, 0, 0.25)
    dropped = np.setdiff1d(np.arange(8), keep)
    x = Tensor(rng.standard_normal((5, 6)).astype(np.float32))
    expected = without_channels(original, 0, 2, dropped)(x).data
    np.testing.assert_allclose(model(x).data, expected, rtol=1e-5, atol=1e-6)


def test_pruned_cnn_slices_the_flattened_linear_inputs(rng):
    model = Sequential(Conv2d(1, 6, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2), Flatten(), Linear(6 * 4 * 4, 5, rng=rng))
    original = copy.deepcopy(model)
    keep = prune_channels(model, 0, 0.5)
    assert model.layers[0].weight.shape == (3, 1, 3, 3) and model.layers[4].weight.shape == (3 * 16, 5)
    dropped = np.setdiff1d(np.arange(6), keep)
    x = Tensor(rng.standard_normal((2, 1, 8, 8)).astype(np.float32))
    expected = without_channels(original, 0, 4, dropped, positions=16)(x).data
    np.testing.assert_allclose(model(x).data, expected, rtol=1e-5, atol=1e-5)


def test_pruning_the_output_layer_is_refused(rng):
    model = Sequential(Linear(6, 8, rng=rng), ReLU(), Linear(8, 3, rng=rng))
    with pytest.raises(ValueError, match="output"):
        prune_channels(model, 2, 0.5)


def test_pruning_a_layer_without_channels_is_refused(rng):
    model = Sequential(Linear(6, 8, rng=rng), ReLU(), Linear(8, 3, rng=rng))
    with pytest.raises(ValueError):
        prune_channels(model, 1, 0.5)
