"""Module 09, hidden, timed: Conv2d forward and backward, each against the reference in the same process.

One ratio per kernel (forward, backward) and per path, never their sum: a slow backward cannot hide
behind a fast forward. The input has many output pixels and few channels (1 x 4 x 128 x 128, 8
filters): the reference does one GEMM over 16,384 rows, so a loop over output pixels (or over the
rows of the GEMM) runs 16,384 Python iterations for the same work: measured 25x to 250x slower on a
loaded 2-core machine, at least 3x the limit. Stride 1 takes the transposed-convolution backward;
a stride-2 convolution of a 1 x 4 x 256 x 256 input (again 16,384 output pixels) times the col2im
backward, whose column-gradient GEMM has one row per output pixel too.
"""


import numpy as np

from tinytorch.core import spatial
from tinytorch_grader.testkit import fastest_passes

SHAPE = (1, 4, 128, 128)
STRIDED_SHAPE = (1, 4, 256, 256)
FILTERS = 8


def _conv_times(module, x_data, upstream, stride=1, repeats=7):
    """Fastest forward and backward seconds of one Conv2d of ``module`` (student or reference)."""
    conv = module.Conv2d(x_data.shape[1], FILTERS, 3, stride=stride, padding=1, rng=np.random.default_rng(0))
    return fastest_passes(conv, module.Tensor, x_data, upstream, repeats)


def _ratios(reference_module, shape=SHAPE, stride=1):
    reference = reference_module("tinytorch.core.spatial")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    side = (shape[2] - 1) // stride + 1  # 3x3 kernel, padding 1
    upstream = rng.standard_normal((shape[0], FILTERS, side, side)).astype(np.float32)
    _conv_times(spatial, x, upstream, stride, repeats=1)
    _conv_times(reference, x, upstream, stride, repeats=1)
    forward, backward = [], []
    for _ in range(3):  # alternate, so machine noise hits both alike
        ours, theirs = _conv_times(spatial, x, upstream, stride), _conv_times(reference, x, upstream, stride)
        forward.append(ours[0] / theirs[0])
        backward.append(ours[1] / theirs[1])
    return float(np.median(forward)), float(np.median(backward))


def test_conv2d_forward_and_backward_are_each_within_the_ratio_of_the_reference(reference_module, max_ratio,
                                                                                record_metric):
    """Vectorise both passes (im2col + one GEMM; two GEMMs + col2im); Python loops over pixels are far too slow."""
    forward, backward = _ratios(reference_module)
    record_metric("conv2d_forward_time_ratio", forward)
    record_metric("conv2d_backward_time_ratio", backward)
    record_metric("conv2d_time_ratio", max(forward, backward))  # the leaderboard's: the slower kernel
    assert forward <= max_ratio, f"your Conv2d forward takes {forward:.1f}x the reference's time (limit {max_ratio}x)"
    assert backward <= max_ratio, f"your Conv2d backward takes {backward:.1f}x the reference's time (limit {max_ratio}x)"


def test_strided_conv2d_backward_is_within_the_ratio_of_the_reference(reference_module, max_ratio, record_metric):
    """A stride-2 backward goes through col2im: vectorise its column gradient (one GEMM) and its adds."""
    _, backward = _ratios(reference_module, STRIDED_SHAPE, stride=2)
    record_metric("conv2d_strided_backward_time_ratio", backward)
    assert backward <= max_ratio, (f"your stride-2 Conv2d backward takes {backward:.1f}x the reference's time "
                                   f"(limit {max_ratio}x)")
