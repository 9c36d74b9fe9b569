"""Module 18, hidden: edge cases of every rewrite, and what each costs in memory."""

import numpy as np
import pytest
from tinytorch_grader.testkit import peak_bytes

from tinytorch.perf.acceleration import (compare, conv2d_im2col, conv2d_loops, gelu_fused, gelu_unfused,
                                         matmul_blocked, matmul_naive, matmul_vectorized)

R = np.random.default_rng(7)


def test_blocked_matmul_with_tiles_larger_than_the_matrix():
    a, b = R.standard_normal((3, 5)), R.standard_normal((5, 2))
    np.testing.assert_allclose(matmul_blocked(a, b, block=100), a @ b, rtol=1e-10)


def test_blocked_matmul_covers_ragged_edges_in_every_dimension():
    a, b = R.standard_normal((67, 70)), R.standard_normal((70, 65))
    np.testing.assert_allclose(matmul_blocked(a, b, block=16), a @ b, rtol=1e-9)


def test_blocked_matmul_refuses_a_zero_tile():
    np.testing.assert_allclose(matmul_blocked(np.eye(2), np.ones((2, 2)), block=1), np.ones((2, 2)))
    with pytest.raises(ValueError):
        matmul_blocked(np.ones((2, 2)), np.ones((2, 2)), block=0)


def test_integer_matmuls_are_exact():
    a = R.integers(-5, 5, (4, 6))
    b = R.integers(-5, 5, (6, 3))
    for matmul in (matmul_naive, matmul_vectorized, matmul_blocked):
        np.testing.assert_array_equal(matmul(a, b), a @ b)


def test_vectorized_matmul_refuses_vectors():
    np.testing.assert_allclose(matmul_vectorized(np.ones((1, 3)), np.ones((3, 2))), np.full((1, 2), 3.0))
    with pytest.raises(ValueError):
        matmul_vectorized(np.ones(3), np.ones((3, 2)))


def test_fused_gelu_allocates_nothing_when_given_a_buffer():
    x = R.standard_normal(200_000).astype(np.float32)
    out = np.empty_like(x)
    gelu_fused(x, out=out)
    _, peak = peak_bytes(gelu_fused, x, out=out)  # measured where gelu_fused runs
    assert peak < x.nbytes // 4, f"the fused GELU allocated {peak} bytes (input is {x.nbytes} bytes)"


def test_fused_gelu_refuses_to_overwrite_its_input():
    x = np.ones(4, np.float32)
    np.testing.assert_allclose(gelu_fused(x, out=np.empty_like(x)), gelu_unfused(x), rtol=1e-6)
    with pytest.raises(ValueError):
        gelu_fused(x, out=x)


def test_fused_gelu_extreme_values():
    x = np.array([-50.0, -10.0, 10.0, 50.0], np.float32)
    np.testing.assert_allclose(gelu_fused(x), gelu_unfused(x), atol=1e-5)
    np.testing.assert_allclose(gelu_fused(x)[2:], x[2:], rtol=1e-6)


@pytest.mark.parametrize("stride,padding,kernel", [(2, 0, 3), (3, 2, 3), (1, 2, 5), (2, 1, 1)])
def test_loop_and_im2col_convolutions_agree(stride, padding, kernel):
    x = R.standard_normal((2, 3, 9, 8)).astype(np.float64)
    w = R.standard_normal((5, 3, kernel, kernel))
    b = R.standard_normal(5)
    loops = conv2d_loops(x, w, b, stride, padding)
    fast = conv2d_im2col(x, w, b, stride, padding)
    np.testing.assert_allclose(loops, fast, rtol=1e-10)
    h_out = (9 + 2 * padding - kernel) // stride + 1
    assert loops.shape == (2, 5, h_out, (8 + 2 * padding - kernel) // stride + 1)


def test_convolution_against_a_hand_computed_value():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.ones((1, 1, 2, 2))
    expected = np.array([[[[10.0, 18.0], [42.0, 50.0]]]])  # 2x2 sums with stride 2
    np.testing.assert_allclose(conv2d_loops(x, w, stride=2), expected)
    np.testing.assert_allclose(conv2d_im2col(x, w, stride=2), expected)


def test_compare_uses_the_median_not_the_first_call():
    calls = []

    def first_call_slow(x):
        calls.append(1)
        if len(calls) == 1:
            import time
            time.sleep(0.05)
        return x

    row = compare("warm", first_call_slow, lambda x: x, np.zeros(2), repeats=5)
    assert row.baseline_ms < 25
