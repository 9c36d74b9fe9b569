"""Module 15: quantizing whole models: every Linear and Conv2d replaced, the original untouched."""

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Layer, Linear, Sequential
from tinytorch.core.spatial import BatchNorm2d, Conv2d, Flatten, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.perf.profiling import model_bytes, named_layers
from tinytorch.perf.quantization import QuantizedConv2d, QuantizedLinear, fold_batchnorm, quantize_model


def mlp(rng):
    return Sequential(Linear(512, 128, rng=rng, init="he"), ReLU(), Linear(128, 64, rng=rng, init="he"), ReLU(),
                      Linear(64, 10, rng=rng))


def test_quantize_model_replaces_every_linear_and_conv(rng):
    model = Sequential(Conv2d(1, 4, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2), Flatten(), Linear(64, 10, rng=rng))
    quantized = quantize_model(model)
    kinds = [type(layer) for layer in quantized.layers]
    assert kinds[0] is QuantizedConv2d and kinds[4] is QuantizedLinear
    assert not any(isinstance(layer, (Linear, Conv2d)) for _, layer in named_layers(quantized))


def test_quantize_model_leaves_the_original_untouched(rng):
    model = mlp(rng)
    weights = [p.data.copy() for p in model.parameters()]
    quantize_model(model, [Tensor(rng.standard_normal((4, 512)).astype(np.float32))])
    assert all(isinstance(layer, (Linear, ReLU)) for layer in model.layers)
    for before, after in zip(weights, model.parameters()):
        np.testing.assert_array_equal(before, after.data)


def test_quantized_mlp_is_at_least_3_9_times_smaller(rng):
    model = mlp(rng)
    assert model_bytes(model) / model_bytes(quantize_model(model)) >= 3.9


def test_quantized_mlp_predicts_like_the_float_one(rng):
    model = mlp(rng)
    x = Tensor(rng.standard_normal((200, 512)).astype(np.float32))
    quantized = quantize_model(model, [x])
    expected, got = model(x).data, quantized(x).data
    assert (expected.argmax(1) == got.argmax(1)).mean() >= 0.95
    assert np.abs(got - expected).max() < 0.05 * np.abs(expected).max()


def test_quantize_model_finds_layers_nested_in_lists(rng):
    class Tower(Layer):
        def __init__(self):
            self.stages = [Linear(4, 4, rng=rng), Sequential(Linear(4, 4, rng=rng))]
            self.head = Linear(4, 2, rng=rng)

        def forward(self, x):
            for stage in self.stages:
                x = stage(x)
            return self.head(x)

    quantized = quantize_model(Tower())
    assert isinstance(quantized.stages[0], QuantizedLinear)
    assert isinstance(quantized.stages[1].layers[0], QuantizedLinear)
    assert isinstance(quantized.head, QuantizedLinear)
    assert quantized(Tensor(np.ones((3, 4), dtype=np.float32))).shape == (3, 2)


def conv_bn(rng):
    model = Sequential(Conv2d(2, 8, 3, padding=1, rng=rng), BatchNorm2d(8), ReLU(), Flatten(), Linear(8 * 5 * 5, 4, rng=rng))
    norm = model.layers[1]
    norm.gamma.data = rng.uniform(0.5, 2.0, 8).astype(np.float32)
    norm.beta.data = rng.uniform(-1.0, 1.0, 8).astype(np.float32)
    norm.running_mean = rng.uniform(-0.5, 0.5, 8).astype(np.float32)
    norm.running_var = rng.uniform(0.2, 3.0, 8).astype(np.float32)
    return model.eval()


def test_fold_batchnorm_matches_eval_mode(rng):
    model = conv_bn(rng)
    x = Tensor(rng.standard_normal((3, 2, 5, 5)).astype(np.float32))
    expected = model(x).data
    folded = fold_batchnorm(model)
    assert [type(layer) for layer in folded.layers] == [Conv2d, ReLU, Flatten, Linear]
    np.testing.assert_allclose(folded(x).data, expected, rtol=1e-4, atol=1e-4)


def test_quantized_conv_bn_model_has_no_batchnorm_left(rng):
    model = conv_bn(rng)
    x = Tensor(rng.standard_normal((3, 2, 5, 5)).astype(np.float32))
    quantized = quantize_model(model, [x])
    assert not any(isinstance(layer, BatchNorm2d) for _, layer in named_layers(quantized))
    assert isinstance(model.layers[1], BatchNorm2d)
    expected = model(x).data
    assert np.abs(quantized(x).data - expected).max() < 0.05 * np.abs(expected).max()
