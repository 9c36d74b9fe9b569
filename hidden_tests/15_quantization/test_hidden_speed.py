"""Module 15, hidden, timed: the student's int8 Linear forward against the reference, in one process."""

import time

import numpy as np

from tinytorch.core.layers import Linear
from tinytorch.core.tensor import Tensor
from tinytorch.perf import quantization


def _forward_times(module, linear, x, repeats=5):
    layer = module.QuantizedLinear.from_float(linear)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        layer(x)
        times.append(time.perf_counter() - start)
    return times


def test_quantized_linear_forward_is_within_the_ratio_of_the_reference(reference_module, max_ratio, record_metric):
    """Use BLAS for the integer products (NumPy's integer matmul has none); never loop in Python."""
    reference = reference_module("tinytorch.perf.quantization")
    rng = np.random.default_rng(0)
    linear = Linear(256, 256, rng=rng)
    x = Tensor(rng.standard_normal((128, 256)).astype(np.float32))
    _forward_times(quantization, linear, x, repeats=1)
    _forward_times(reference, linear, x, repeats=1)
    ratios = []
    for _ in range(3):  # alternate, so machine noise hits both alike
        ours, theirs = np.median(_forward_times(quantization, linear, x)), np.median(_forward_times(reference, linear, x))
        ratios.append(ours / theirs)
    ratio = float(np.median(ratios))
    record_metric("quantized_linear_time_ratio", ratio)
    assert ratio <= max_ratio, f"your QuantizedLinear forward takes {ratio:.1f}x the reference's time (limit {max_ratio}x)"
