"""Fixtures shared by every module's tests (visible and hidden).

This file sits at the root of the course repo, of every student repo and of every grader
bundle tree, so it serves both tests/ and hidden_tests/. It may only import what every
module has: NumPy and tinytorch's Tensor. The grader's own fixtures
(``reference_module``, ``max_ratio``, ``record_metric``) come from the
``tinytorch_grader.fixtures`` pytest plugin.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

SEED = int(os.environ.get("TINYTORCH_TEST_SEED", "0"))


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, so a test sees the same numbers on every run and machine."""
    return np.random.default_rng(SEED)


def numerical_gradient(fn, arrays: list[np.ndarray], index: int, eps: float = 1e-6) -> np.ndarray:
    """Central difference d sum(fn(*arrays)·w)/d arrays[index] in float64, w fixed random weights."""
    base = arrays[index]
    grad = np.zeros_like(base, dtype=np.float64)
    for i in np.ndindex(base.shape):
        original = base[i]
        base[i] = original + eps
        plus = fn(*arrays)
        base[i] = original - eps
        minus = fn(*arrays)
        base[i] = original
        grad[i] = (plus - minus) / (2 * eps)
    return grad


@pytest.fixture
def gradcheck():
    """Compare autograd with a float64 central difference.

    Usage: ``gradcheck(lambda a, b: (a * b).sum(), a_array, b_array)``; the function gets
    Tensors built from float64 copies of the arrays and must return a Tensor. A fixed random
    projection of the output makes the check cover every output element.
    """
    from tinytorch.core.tensor import Tensor

    def check(fn, *arrays, atol: float = 1e-5, rtol: float = 1e-4, wrt=None):
        arrays = [np.array(a, dtype=np.float64) for a in arrays]
        probe = fn(*[Tensor(a) for a in arrays])
        weights = np.random.default_rng(1234).standard_normal(probe.shape)

        def scalar(*values):
            return float((fn(*[Tensor(v) for v in values]).data * weights).sum())

        inputs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
        out = fn(*inputs)
        (out * Tensor(weights)).sum().backward()
        for i in wrt if wrt is not None else range(len(arrays)):
            expected = numerical_gradient(scalar, arrays, i)
            got = inputs[i].grad
            assert got is not None, f"input {i} got no gradient: the graph was cut"
            np.testing.assert_allclose(got.data, expected, atol=atol, rtol=rtol,
                                       err_msg=f"gradient of input {i} differs from the central difference")
        return True

    return check
