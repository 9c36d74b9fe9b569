"""Module 18, hidden, timed: the optimized versions must be fast, as fast as the reference's."""

import time

import numpy as np

from tinytorch.perf import acceleration


def _median_ms(fn, *args, repeats=5):
    fn(*args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def _workload(module):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((192, 192)).astype(np.float32)
    x = rng.standard_normal((8, 16, 24, 24)).astype(np.float32)
    w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    big = rng.standard_normal(500_000).astype(np.float32)
    return (_median_ms(module.matmul_blocked, a, a)
            + _median_ms(lambda: module.conv2d_im2col(x, w, padding=1))
            + _median_ms(module.gelu_fused, big))


def test_blocked_matmul_im2col_and_fused_gelu_keep_pace_with_the_reference(reference_module, max_ratio, record_metric):
    """Use BLAS on whole tiles, one matmul for the convolution, and in-place ufuncs for GELU."""
    reference = reference_module("tinytorch.perf.acceleration")
    ratios = [_workload(acceleration) / _workload(reference) for _ in range(3)]
    ratio = float(np.median(ratios))
    record_metric("acceleration_time_ratio", ratio)
    assert ratio <= max_ratio, f"your optimized kernels take {ratio:.1f}x the reference's time (limit {max_ratio}x)"
