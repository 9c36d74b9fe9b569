"""Randomized properties that confirm module 18's equivalent marks (docs/DESIGN.md section 10).

Random shapes, strides, paddings, chunk sizes and worker counts; forward values, every gradient
and the running statistics of the accelerated layers (LayerNorm, GELU and Embedding among them), the teaching convolution, and what
``compare`` reports apart from its timings.
"""

import numpy as np

from tinytorch.core.activations import GELU, ReLU
from tinytorch.core.attention import MultiHeadAttention
from tinytorch.core.embeddings import Embedding
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.spatial import BatchNorm2d, Conv2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import LayerNorm
from tinytorch.perf.acceleration import accelerate, compare, conv2d_loops


def _images(rng, channels):
    n, h, w = int(rng.integers(1, 5)), int(rng.integers(3, 8)), int(rng.integers(3, 8))
    return rng.standard_normal((n, channels, h, w)).astype(np.float32)


def _step(model, x, rng):
    """Output, input gradient and parameter gradients of one forward and backward."""
    tensor = Tensor(x, requires_grad=True)
    out = model(tensor)
    out.backward(rng.standard_normal(out.shape).astype(np.float32))
    return out.data, tensor.grad.data, [p.grad.data for p in model.parameters()]


def conv_values_and_gradients(rng):
    """AcceleratedConv2d through accelerate(): random kernel, stride, padding, chunk, 1 or 2 workers."""
    c, f, k = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
    conv = Conv2d(c, f, k, stride=int(rng.integers(1, 3)), padding=int(rng.integers(0, k)),
                  bias=bool(rng.integers(0, 2)), rng=rng)
    fast = accelerate(Sequential(conv), chunk=int(rng.integers(1, 4)), workers=int(rng.integers(1, 3)))
    return _step(fast, _images(rng, c), rng)


def batchnorm_values_gradients_and_statistics(rng):
    """AcceleratedBatchNorm2d (+ReLU): two training steps, 1 or 2 workers, then the running statistics."""
    c = int(rng.integers(1, 4))
    norm = BatchNorm2d(c)
    norm.gamma.data = rng.standard_normal(c).astype(np.float32)
    norm.beta.data = rng.standard_normal(c).astype(np.float32)
    layers = [norm, ReLU()] if rng.integers(0, 2) else [norm]
    fast = accelerate(Sequential(*layers), workers=int(rng.integers(1, 3)))
    seen = [_step(fast, _images(rng, c) * 2 + 1, rng) for _ in range(2)]
    return seen, norm.running_mean, norm.running_var


def linear_gradients(rng):
    """AcceleratedLinear on 2-D and 3-D inputs, with and without a bias, 1 or 2 workers."""
    d_in, d_out = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    fast = accelerate(Sequential(Linear(d_in, d_out, bias=bool(rng.integers(0, 2)), rng=rng)),
                      workers=int(rng.integers(1, 3)))
    lead = (int(rng.integers(1, 4)),) * int(rng.integers(1, 3))
    return _step(fast, rng.standard_normal((*lead, d_in)).astype(np.float32), rng)


def layernorm_values_and_gradients(rng):
    """AcceleratedLayerNorm through accelerate(): random leading axes and width, random gamma and beta,
    1 or 2 workers."""
    d = int(rng.integers(2, 7))
    norm = LayerNorm(d)
    norm.gamma.data = rng.standard_normal(d).astype(np.float32)
    norm.beta.data = rng.standard_normal(d).astype(np.float32)
    lead = tuple(int(rng.integers(1, 4)) for _ in range(int(rng.integers(1, 3))))
    return _step(accelerate(norm, workers=int(rng.integers(1, 3))),
                 rng.standard_normal((*lead, d)).astype(np.float32) * 3 + 1, rng)


def gelu_values_and_gradients(rng):
    """AcceleratedGELU through accelerate(): random shapes of one to three axes, 1 or 2 workers."""
    shape = tuple(int(rng.integers(1, 5)) for _ in range(int(rng.integers(1, 4))))
    fast = accelerate(Sequential(GELU()), workers=int(rng.integers(1, 3)))
    return _step(fast, rng.standard_normal(shape).astype(np.float32) * 2, rng)


def loop_convolution_values(rng):
    """conv2d_loops with random kernels, strides, paddings and bias."""
    c, f, k = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
    x = _images(rng, c)
    weight = rng.standard_normal((f, c, k, k)).astype(np.float32)
    bias = rng.standard_normal(f).astype(np.float32) if rng.integers(0, 2) else None
    return conv2d_loops(x, weight, bias, stride=int(rng.integers(1, 3)), padding=int(rng.integers(0, 3)))


def compare_without_timings(rng):
    """What compare() reports apart from the measured times: the name and the max |difference|."""
    a = rng.standard_normal((int(rng.integers(1, 6)), int(rng.integers(1, 6)))).astype(np.float32)
    result = compare("scaled copy", lambda v: v * 2, lambda v: v + v, a, repeats=int(rng.integers(1, 4)))
    return result.name, result.max_abs_error, result.baseline_ms > 0, result.optimized_ms > 0


def attention_values_and_gradients(rng):
    """AcceleratedMultiHeadAttention (one stacked q/k/v GEMM) through accelerate(): random batch,
    length, heads and head width, causal or not, 1 or 2 workers."""
    heads, head_dim = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    mha = MultiHeadAttention(heads * head_dim, heads, rng=rng)
    fast = accelerate(mha, workers=int(rng.integers(1, 3)))
    x = rng.standard_normal((int(rng.integers(1, 4)), int(rng.integers(1, 6)), heads * head_dim)).astype(np.float32)
    tensor = Tensor(x, requires_grad=True)
    out = fast(tensor, causal=bool(rng.integers(0, 2)))
    out.backward(rng.standard_normal(out.shape).astype(np.float32))
    return out.data, tensor.grad.data, [p.grad.data for p in fast.parameters()]


def embedding_gradient(rng):
    """AcceleratedEmbedding through accelerate(): random table size, ids of rank 1 to 3 with repeats."""
    table = Embedding(int(rng.integers(1, 9)), int(rng.integers(1, 6)), rng=rng)
    fast = accelerate(table)
    ids = rng.integers(0, table.vocab_size, tuple(int(n) for n in rng.integers(1, 5, int(rng.integers(1, 4)))))
    out = fast(ids)
    out.backward(rng.standard_normal(out.shape).astype(np.float32))
    return out.data, table.weight.grad.data
