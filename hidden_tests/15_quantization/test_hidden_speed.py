"""Module 15, hidden, timed: the student's int8 Linear forward against the reference, in one process.

Two shapes, each with its own ratio (never a sum):

- a narrow layer with a tall batch (16 -> 16, 8192 rows): per-row work is tiny, so a Python loop
  over rows is measured about 48x slower;
- a wide layer (512 -> 512, 256 rows): the integer product dominates; the reference sums it in
  float64 BLAS, NumPy's integer matmul (no BLAS) is measured 17x to 27x slower.

Whether the arithmetic is integer at all is not a question of time: test_hidden_quantization
checks the exact integer product.
"""

import time

import numpy as np

from tinytorch.perf import quantization

SHAPES = {"tall batch": (16, 16, 8192), "wide layer": (512, 512, 256)}  # in, out, rows


def _layer_and_input(module, weight, bias, x_data):
    """The QuantizedLinear of ``module`` (student's or reference) for these float weights, and its input Tensor."""
    linear = module.Linear(*weight.shape, rng=np.random.default_rng(0))
    linear.weight.data, linear.bias.data = weight, bias
    return module.QuantizedLinear.from_float(linear), module.Tensor(x_data)


def _forward_times(layer, x, repeats=7):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        layer(x)
        times.append(time.perf_counter() - start)
    return times


def _ratio(reference, in_features, out_features, rows):
    rng = np.random.default_rng(0)
    weight = (rng.standard_normal((in_features, out_features)) / np.sqrt(in_features)).astype(np.float32)
    bias = (rng.standard_normal(out_features) * 0.1).astype(np.float32)
    x_data = rng.standard_normal((rows, in_features)).astype(np.float32)
    student, student_x = _layer_and_input(quantization, weight, bias, x_data)
    oracle, oracle_x = _layer_and_input(reference, weight, bias, x_data)
    _forward_times(student, student_x, repeats=1)
    _forward_times(oracle, oracle_x, repeats=1)
    ratios = []
    for _ in range(3):  # alternate, so machine noise hits both alike
        # the fastest run of each: on a loaded machine it is the one that measures the code, not the load
        ours, theirs = min(_forward_times(student, student_x)), min(_forward_times(oracle, oracle_x))
        ratios.append(ours / theirs)
    return float(np.median(ratios))


def test_quantized_linear_forward_is_within_the_ratio_of_the_reference(reference_module, max_ratio, record_metric):
    """Use BLAS for the integer products (NumPy's integer matmul has none); never loop in Python."""
    reference = reference_module("tinytorch.perf.quantization")
    worst = 0.0
    for name, shape in SHAPES.items():
        ratio = _ratio(reference, *shape)
        worst = max(worst, ratio)
        record_metric(f"quantized_linear_time_ratio_{name.replace(' ', '_')}", ratio)
        record_metric("quantized_linear_time_ratio", worst)  # the leaderboard's: the slower shape so far
        assert ratio <= max_ratio, (f"with a {name} your QuantizedLinear forward takes {ratio:.1f}x the reference's "
                                    f"time (limit {max_ratio}x)")
