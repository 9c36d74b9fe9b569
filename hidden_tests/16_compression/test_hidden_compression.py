"""Module 16, hidden: pruning convolutions, batch norm and chains of layers; masks; distillation edge cases."""

import copy

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.spatial import BatchNorm2d, Conv2d, Flatten, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.perf.compression import (
    PruningMasks,
    distillation_loss,
    keep_input_channels,
    keep_mask,
    keep_output_channels,
    magnitude_prune,
    prune_channels,
    sparsity,
)
from tinytorch.perf.profiling import count_parameters


def cnn(rng):
    model = Sequential(Conv2d(2, 6, 3, padding=1, rng=rng), BatchNorm2d(6), ReLU(), Conv2d(6, 4, 3, padding=1, rng=rng),
                       ReLU(), MaxPool2d(2), Flatten(), Linear(4 * 3 * 3, 3, rng=rng))
    bn = model.layers[1]
    bn.gamma.data = rng.uniform(0.5, 1.5, 6).astype(np.float32)
    bn.beta.data = rng.uniform(-0.5, 0.5, 6).astype(np.float32)
    bn.running_mean = rng.uniform(-0.2, 0.2, 6).astype(np.float32)
    bn.running_var = rng.uniform(0.5, 2.0, 6).astype(np.float32)
    return model.eval()


def test_conv_to_conv_through_batchnorm_is_exact(rng):
    model = cnn(rng)
    original = copy.deepcopy(model)
    keep = prune_channels(model, 0, 0.5)
    dropped = np.setdiff1d(np.arange(6), keep)
    weight = np.array(original.layers[3].weight.data)
    weight[:, dropped] = 0
    original.layers[3].weight.data = weight
    bn = model.layers[1]
    assert bn.num_features == 3 and bn.gamma.shape == (3,) and bn.running_var.shape == (3,)
    np.testing.assert_array_equal(bn.running_mean, original.layers[1].running_mean[keep])
    x = Tensor(rng.standard_normal((2, 2, 6, 6)).astype(np.float32))
    np.testing.assert_allclose(model(x).data, original(x).data, rtol=1e-5, atol=1e-5)


def test_second_conv_feeding_flatten_and_linear(rng):
    model = cnn(rng)
    original = copy.deepcopy(model)
    keep = prune_channels(model, 3, 0.5)
    dropped = np.setdiff1d(np.arange(4), keep)
    rows = (dropped[:, None] * 9 + np.arange(9)).ravel()
    weight = np.array(original.layers[7].weight.data)
    weight[rows] = 0
    original.layers[7].weight.data = weight
    assert model.layers[7].in_features == 2 * 9
    x = Tensor(rng.standard_normal((2, 2, 6, 6)).astype(np.float32))
    np.testing.assert_allclose(model(x).data, original(x).data, rtol=1e-5, atol=1e-5)


def test_structured_pruning_really_shrinks_the_model(rng):
    model = Sequential(Linear(20, 40, rng=rng), ReLU(), Linear(40, 5, rng=rng))
    prune_channels(model, 0, 0.75)
    assert count_parameters(model) == 20 * 10 + 10 + 10 * 5 + 5


def test_pruned_model_still_trains(rng):
    model = cnn(rng).train()
    prune_channels(model, 0, 0.5)
    loss = CrossEntropyLoss()(model(Tensor(rng.standard_normal((4, 2, 6, 6)).astype(np.float32))), np.array([0, 1, 2, 0]))
    loss.backward()
    for parameter in model.parameters():
        assert parameter.requires_grad and parameter.grad is not None and parameter.grad.shape == parameter.shape


def test_at_least_one_channel_survives(rng):
    model = Sequential(Linear(3, 4, rng=rng), Linear(4, 2, rng=rng))
    assert len(prune_channels(model, 0, 0.99)) == 1 and model.layers[1].weight.shape == (1, 2)


def test_amount_zero_keeps_every_channel_in_order(rng):
    model = Sequential(Linear(3, 5, rng=rng), ReLU(), Linear(5, 2, rng=rng))
    assert prune_channels(model, 0, 0.0).tolist() == [0, 1, 2, 3, 4]


def test_keep_output_and_input_channels_directly(rng):
    conv = Conv2d(3, 5, 1, rng=rng)
    keep = np.array([1, 4])
    weight = conv.weight.data.copy()
    keep_output_channels(conv, keep)
    np.testing.assert_array_equal(conv.weight.data, weight[keep])
    assert conv.out_channels == 2 and conv.bias.shape == (2,)
    linear = Linear(10, 2, rng=rng)
    rows = linear.weight.data.copy()
    keep_input_channels(linear, np.array([0, 3]), positions=2)
    np.testing.assert_array_equal(linear.weight.data, rows[[0, 1, 6, 7]])


def test_layer_scope_prunes_each_layer_by_its_own_fraction(rng):
    model = Sequential(Conv2d(2, 4, 3, rng=rng), Flatten(), Linear(4 * 4 * 4, 3, rng=rng))
    masks = magnitude_prune(model, 0.3, scope="layer")
    for name, mask in masks.masks.items():
        assert mask.dtype == bool and mask.shape == masks.weights[name].shape
        assert (~mask).sum() == round(0.3 * mask.size)
    assert sparsity(model.layers[0].weight) == pytest.approx(round(0.3 * 72) / 72)


def test_global_pruning_counts_exactly_across_layers(rng):
    model = Sequential(Linear(7, 3, rng=rng), Linear(3, 11, rng=rng))
    masks = magnitude_prune(model, 0.4)
    total = 7 * 3 + 3 * 11
    assert sum(int((~m).sum()) for m in masks.masks.values()) == round(0.4 * total)


def test_masks_apply_keeps_the_same_tensor(rng):
    layer = Linear(4, 4, rng=rng)
    weight = layer.weight
    masks = magnitude_prune(Sequential(layer), 0.5)
    layer.weight.data = layer.weight.data + np.float32(1.0)
    masks.apply()
    assert layer.weight is weight and sparsity(layer.weight) == pytest.approx(0.5)


def test_pruning_masks_sparsity_counts_masked_weights():
    weights = {"a": Tensor(np.ones(4, dtype=np.float32)), "b": Tensor(np.ones(6, dtype=np.float32))}
    masks = PruningMasks(weights, {"a": np.array([1, 0, 0, 1], bool), "b": np.ones(6, bool)})
    masks.apply()
    assert weights["a"].data.tolist() == [1, 0, 0, 1] and masks.sparsity == pytest.approx(0.2)


def test_a_model_without_weights_is_refused():
    with pytest.raises(ValueError):
        magnitude_prune(Sequential(ReLU()), 0.5)


def test_sparsity_of_an_empty_model_is_zero():
    assert sparsity(Sequential(ReLU())) == 0.0


def test_distillation_temperature_softens_the_gradient_only_by_t_squared(rng):
    """With the T² factor the soft gradient, T·(p_s - p_t)/N ≈ (s - t)/(C·N) for large T, keeps its size as T grows."""
    student = rng.standard_normal((8, 5))
    teacher = rng.standard_normal((8, 5))
    sizes = []
    for temperature in (4.0, 8.0):
        s = Tensor(student.copy(), requires_grad=True)
        distillation_loss(s, teacher, None, temperature=temperature, alpha=1.0).backward()
        sizes.append(np.abs(s.grad.data).mean())
    assert 0.8 < sizes[1] / sizes[0] < 1.25  # without T² it would shrink 4x, with T alone 2x


def test_distillation_with_alpha_zero_is_cross_entropy(rng):
    student, teacher = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    targets = rng.integers(0, 4, 5)
    expected = CrossEntropyLoss()(Tensor(student), targets).item()
    assert distillation_loss(Tensor(student), teacher, targets, alpha=0.0).item() == pytest.approx(expected)


@pytest.mark.parametrize("temperature,alpha", [(0.0, 0.5), (-1.0, 0.5), (2.0, 1.5)])
def test_distillation_refuses_bad_settings(rng, temperature, alpha):
    with pytest.raises(ValueError):
        distillation_loss(Tensor(rng.standard_normal((2, 3))), rng.standard_normal((2, 3)), np.array([0, 1]),
                          temperature=temperature, alpha=alpha)


def test_distillation_refuses_mismatched_logits(rng):
    with pytest.raises(ValueError):
        distillation_loss(Tensor(rng.standard_normal((2, 3))), rng.standard_normal((2, 4)), np.array([0, 1]))


def test_distillation_keeps_float32(rng):
    student = Tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    loss = distillation_loss(student, rng.standard_normal((3, 4)), np.array([0, 1, 2]))
    assert loss.dtype == np.float32
    loss.backward()
    assert student.grad.dtype == np.float32


def test_amount_zero_prunes_nothing(rng):
    model = Sequential(Linear(4, 5, rng=rng), Linear(5, 2, rng=rng))
    masks = magnitude_prune(model, 0.0)
    assert masks.sparsity == 0.0 and sparsity(model) == 0.0


@pytest.mark.parametrize("amount", [1.0, 1.5, -0.2])
def test_prune_channels_refuses_amounts_outside_0_1(rng, amount):
    with pytest.raises(ValueError):
        prune_channels(Sequential(Linear(3, 4, rng=rng), Linear(4, 2, rng=rng)), 0, amount)


def test_keep_mask_matches_a_full_sort(rng):
    for size, amount in [(10, 0.1), (37, 0.3), (50, 0.5), (64, 0.77), (9, 0.95)]:
        magnitudes = rng.permutation(size).astype(np.float64)  # distinct values, shuffled
        k = round(amount * size)
        expected = np.ones(size, dtype=bool)
        expected[np.argsort(magnitudes)[:k]] = False
        np.testing.assert_array_equal(keep_mask(magnitudes, amount), expected)


def test_global_pruning_over_three_layers_uses_one_threshold(rng):
    model = Sequential(Linear(5, 6, rng=rng), Linear(6, 7, rng=rng), Linear(7, 3, rng=rng))
    model.layers[2].weight.data = model.layers[2].weight.data * np.float32(10)
    originals = [np.abs(layer.weight.data).copy() for layer in model.layers]
    everything = np.concatenate([w.ravel() for w in originals])
    threshold = np.sort(everything)[round(0.6 * everything.size) - 1]
    masks = magnitude_prune(model, 0.6)
    for layer, original, mask in zip(model.layers, originals, masks.masks.values()):
        np.testing.assert_array_equal(mask, original > threshold)
        np.testing.assert_array_equal(layer.weight.data == 0, original <= threshold)


def test_keep_mask_drops_every_entry_when_the_amount_rounds_to_all():
    magnitudes = np.array([3.0, 1.0, 2.0, 4.0])
    assert not np.asarray(keep_mask(magnitudes, 0.9)).any(), "round(0.9 * 4) = 4: every entry is dropped"
    np.testing.assert_array_equal(keep_mask(magnitudes, 0.5), [True, False, False, True])
