"""Module 09, hidden, timed: the student's Conv2d forward + backward against the reference, in one process."""

import time

import numpy as np

from tinytorch.core import spatial
from tinytorch.core.tensor import Tensor


def _step_time(module, x_data, repeats=5):
    conv = module.Conv2d(16, 32, 3, padding=1, rng=np.random.default_rng(0))
    times = []
    for _ in range(repeats):
        x = Tensor(x_data, requires_grad=True)
        start = time.perf_counter()
        conv(x).sum().backward()
        times.append(time.perf_counter() - start)
    return times


def test_conv2d_forward_backward_is_within_the_ratio_of_the_reference(reference_module, max_ratio, record_metric):
    """Vectorise the convolution (im2col + one matmul); Python loops over pixels are far too slow."""
    reference = reference_module("tinytorch.core.spatial")
    x = np.random.default_rng(0).standard_normal((16, 16, 16, 16)).astype(np.float32)
    _step_time(spatial, x, repeats=1)
    _step_time(reference, x, repeats=1)
    ratios = []
    for _ in range(3):  # alternate, so machine noise hits both alike
        ours, theirs = np.median(_step_time(spatial, x)), np.median(_step_time(reference, x))
        ratios.append(ours / theirs)
    ratio = float(np.median(ratios))
    record_metric("conv2d_time_ratio", ratio)
    assert ratio <= max_ratio, f"your Conv2d forward+backward takes {ratio:.1f}x the reference's time (limit {max_ratio}x)"
