"""Module 18: three matmuls that must all agree with BLAS."""

import numpy as np
import pytest

from tinytorch.perf.acceleration import matmul_blocked, matmul_naive, matmul_vectorized

R = np.random.default_rng(0)


@pytest.mark.parametrize("shape", [(3, 4, 5), (1, 7, 1), (6, 1, 2)])
def test_naive_matmul_matches_numpy(shape):
    m, k, n = shape
    a, b = R.standard_normal((m, k)), R.standard_normal((k, n))
    np.testing.assert_allclose(matmul_naive(a, b), a @ b, rtol=1e-10)


@pytest.mark.parametrize("shape", [(5, 4, 3), (1, 9, 2), (16, 16, 16)])
def test_vectorized_matmul_matches_numpy(shape):
    m, k, n = shape
    a, b = R.standard_normal((m, k)), R.standard_normal((k, n))
    np.testing.assert_allclose(matmul_vectorized(a, b), a @ b, rtol=1e-10)


@pytest.mark.parametrize("block", [1, 4, 8, 64])
def test_blocked_matmul_matches_numpy_for_any_tile_size(block):
    a, b = R.standard_normal((20, 13)), R.standard_normal((13, 9))
    np.testing.assert_allclose(matmul_blocked(a, b, block=block), a @ b, rtol=1e-10)


def test_float32_stays_float32():
    a = R.standard_normal((8, 8)).astype(np.float32)
    for matmul in (matmul_naive, matmul_vectorized, matmul_blocked):
        assert matmul(a, a).dtype == np.float32


@pytest.mark.parametrize("matmul", [matmul_naive, matmul_vectorized, matmul_blocked])
def test_mismatched_shapes_are_refused(matmul):
    np.testing.assert_allclose(matmul(np.ones((2, 3)), np.ones((3, 2))), np.full((2, 2), 3.0))
    with pytest.raises(ValueError, match="K"):
        matmul(np.ones((2, 3)), np.ones((4, 2)))
