"""Module 12, hidden, timed: multi-head attention forward + backward against the reference, in one process."""

import time

import numpy as np

from tinytorch.core import attention
from tinytorch.core.tensor import Tensor


def _times(module, x_data, repeats=5):
    mha = module.MultiHeadAttention(64, 4, rng=np.random.default_rng(0))
    times = []
    for _ in range(repeats):
        x = Tensor(x_data, requires_grad=True)
        start = time.perf_counter()
        mha(x, causal=True).sum().backward()
        times.append(time.perf_counter() - start)
    return times


def test_attention_is_within_the_ratio_of_the_reference(reference_module, max_ratio, record_metric):
    """Compute all heads with batched matmuls; loops over heads or positions are far too slow."""
    reference = reference_module("tinytorch.core.attention")
    x = np.random.default_rng(0).standard_normal((8, 64, 64)).astype(np.float32)
    _times(attention, x, 1), _times(reference, x, 1)
    ratios = [np.median(_times(attention, x)) / np.median(_times(reference, x)) for _ in range(3)]
    ratio = float(np.median(ratios))
    record_metric("attention_time_ratio", ratio)
    assert ratio <= max_ratio, f"your attention takes {ratio:.1f}x the reference's time (limit {max_ratio}x)"
