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


# ---------------------------------------------------------------------- the accelerated path, kernel by kernel
def _kernels(module):
    """name -> (layer, input shape, keyword arguments) built from ``module``'s own classes, one per kernel."""
    rng = np.random.default_rng(2)
    bn = module.BatchNorm2d(32)
    return {
        "conv 32->32 3x3 (forward + backward)":
            (module.AcceleratedConv2d(module.Conv2d(32, 32, 3, padding=1, rng=rng)), (16, 32, 16, 16), {}),
        "batchnorm + relu (forward + backward)": (module.AcceleratedBatchNorm2d(bn, relu=True), (16, 32, 16, 16), {}),
        "maxpool 2x2 (forward + backward)": (module.AcceleratedMaxPool2d(module.MaxPool2d(2)), (16, 32, 16, 16), {}),
        "gelu 256x512 (forward + backward)": (module.AcceleratedGELU(), (256, 512), {}),
        "linear 128->256 on (16, 32, 128) (forward + backward)":
            (module.AcceleratedLinear(module.Linear(128, 256, rng=rng)), (16, 32, 128), {}),
        "attention 4 heads, 64 positions (forward + backward)":
            (module.AcceleratedMultiHeadAttention(module.MultiHeadAttention(64, 4, rng=rng)), (8, 64, 64), {"causal": True}),
    }


def _fastest_ms(module, layer, data, upstream, kwargs, repeats=7):
    times = []
    for _ in range(repeats):
        x = module.Tensor(data, requires_grad=True)
        start = time.perf_counter()
        layer(x, **kwargs).backward(upstream)
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def test_every_accelerated_kernel_keeps_pace_with_the_reference(reference_module, max_ratio, record_metric):
    """One ratio per kernel, student and reference alternating in the same run (never a sum)."""
    reference = reference_module("tinytorch.perf.acceleration")
    ours, theirs = _kernels(acceleration), _kernels(reference)
    rng = np.random.default_rng(3)
    slow = []
    for name, (layer, shape, kwargs) in ours.items():
        data = rng.standard_normal(shape).astype(np.float32)
        upstream = rng.standard_normal(layer(acceleration.Tensor(data), **kwargs).shape).astype(np.float32)
        ratios = [_fastest_ms(acceleration, layer, data, upstream, kwargs, repeats=3)
                  / _fastest_ms(reference, theirs[name][0], data, upstream, kwargs, repeats=3) for _ in range(3)]
        ratio = float(np.median(ratios))
        record_metric("accelerated_" + name.split(" ")[0] + "_time_ratio", ratio)
        if ratio > max_ratio:
            slow.append(f"{name}: {ratio:.1f}x")
    assert not slow, f"accelerated kernels slower than {max_ratio}x the reference's: {', '.join(slow)}"
