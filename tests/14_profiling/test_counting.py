"""Module 14: parameters, bytes and FLOPs against their definitions."""

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.attention import MultiHeadAttention
from tinytorch.core.layers import Layer, Linear, Sequential
from tinytorch.core.spatial import BatchNorm2d, Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.perf.profiling import count_parameters, layer_flops, model_bytes


def test_count_parameters_counts_elements_not_tensors(rng):
    model = Sequential(Linear(5, 7, rng=rng), ReLU(), Linear(7, 3, bias=False, rng=rng))
    assert count_parameters(model) == 5 * 7 + 7 + 7 * 3


def test_count_parameters_of_a_conv_layer(rng):
    assert count_parameters(Conv2d(3, 8, 5, rng=rng)) == 8 * 3 * 5 * 5 + 8


def test_model_bytes_of_a_float32_linear(rng):
    assert model_bytes(Linear(3, 4, rng=rng)) == (3 * 4 + 4) * 4


def test_model_bytes_counts_non_trainable_arrays_too():
    """BatchNorm2d has 2·C parameters but also stores running statistics as plain arrays."""
    bn = BatchNorm2d(6)
    assert count_parameters(bn) == 12
    assert model_bytes(bn) == 4 * 6 * 4


class Int8Weights(Layer):
    """A stand-in for a quantized layer: int8 weights and one float32 scale per output."""

    def __init__(self):
        self.q = np.zeros((10, 20), dtype=np.int8)
        self.scale = np.ones(20, dtype=np.float32)


def test_model_bytes_counts_plain_arrays_at_their_dtype():
    assert model_bytes(Int8Weights()) == 10 * 20 * 1 + 20 * 4


def test_model_bytes_counts_a_shared_tensor_once(rng):
    first = Linear(4, 4, rng=rng)
    second = Linear(4, 4, rng=rng)
    second.weight = first.weight
    assert model_bytes(Sequential(first, second)) == (16 + 4 + 4) * 4


def test_linear_flops_are_two_per_multiply_add(rng):
    assert layer_flops(Linear(30, 20, rng=rng), (8, 30)) == 2 * 8 * 30 * 20


def test_linear_flops_count_every_leading_axis(rng):
    assert layer_flops(Linear(16, 64, rng=rng), (2, 5, 16)) == 2 * 2 * 5 * 16 * 64


@pytest.mark.parametrize("stride,padding,expected_hw", [(1, 0, (6, 4)), (1, 1, (8, 6)), (2, 1, (4, 3))])
def test_conv2d_flops_use_the_output_size(rng, stride, padding, expected_hw):
    conv = Conv2d(3, 5, 3, stride=stride, padding=padding, rng=rng)
    h_out, w_out = expected_hw
    assert conv(Tensor(np.zeros((2, 3, 8, 6), dtype=np.float32))).shape[2:] == expected_hw
    assert layer_flops(conv, (2, 3, 8, 6)) == 2 * 2 * h_out * w_out * 5 * 3 * 3 * 3


def test_attention_flops_are_projections_plus_scores_and_mixing(rng):
    batch, seq_len, dim = 2, 6, 8
    expected = 4 * (2 * batch * seq_len * dim * dim) + 2 * (2 * batch * seq_len * seq_len * dim)
    assert layer_flops(MultiHeadAttention(dim, 2, rng=rng), (batch, seq_len, dim)) == expected


def test_layer_flops_refuses_a_layer_it_does_not_know():
    with pytest.raises(ValueError, match="MaxPool2d"):
        layer_flops(MaxPool2d(2), (1, 1, 4, 4))


def test_layer_flops_refuses_an_input_of_the_wrong_width(rng):
    with pytest.raises(ValueError):
        layer_flops(Linear(3, 4, rng=rng), (2, 5))
