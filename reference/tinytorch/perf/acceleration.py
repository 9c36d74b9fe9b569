"""Module 18: acceleration, the same arithmetic done in fewer, bigger, cache-friendly steps.

Three rewrites that change nothing in the result and a lot in the time:

- **matmul**: a triple Python loop pays interpreter overhead for each of the M·N·K
  multiply-adds; one NumPy call per output row pays it M times; a blocked (tiled) product
  works on tiles that stay in cache; the BLAS call (``a @ b``) does all of that in C with SIMD.
- **fusion**: an expression such as GELU's tanh formula allocates a temporary array per
  operator and streams the whole tensor through memory each time; computing it in one
  preallocated buffer (``out=``) keeps the memory traffic to a few passes.
- **convolution**: a loop over output pixels does K·K·C-long dot products one at a time; im2col
  lays every receptive field out as a row so the whole layer is a single matmul.

Systems point: the FLOPs are identical in every pair; what differs is the number of Python
steps and the bytes moved. ``speedup_table`` measures both versions with module 14's
``measure_latency`` so the gain is a measured figure, not a claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from tinytorch.core.spatial import im2col, output_size, weight_matrix
from tinytorch.perf.profiling import measure_latency

GELU_C = np.float32(np.sqrt(2.0 / np.pi))  # GELU's tanh approximation constants
GELU_K = np.float32(0.044715)


def _check_matmul_shapes(a: np.ndarray, b: np.ndarray) -> None:
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul needs (M, K) @ (K, N), got {a.shape} @ {b.shape}")


# ---------------------------------------------------------------------- matmul
def matmul_naive(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(M, K) @ (K, N) with three Python loops: M·N·K interpreted multiply-adds. Teaching baseline only."""
    _check_matmul_shapes(a, b)
    #% solution hint="out = zeros((M, N)) in the result dtype; for i, for j: sum a[i, k] * b[k, j] over k in a Python loop."
    m, k = a.shape
    n = b.shape[1]
    out = np.zeros((m, n), dtype=np.result_type(a, b))
    for i in range(m):
        for j in range(n):
            total = 0.0
            for p in range(k):
                total += a[i, p] * b[p, j]
            out[i, j] = total
    return out
    #% endsolution


def matmul_vectorized(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One NumPy operation per output row: row i = a[i] @ b (a length-K vector times a K x N matrix)."""
    _check_matmul_shapes(a, b)
    #% solution hint="For each row i: out[i] = (a[i][:, None] * b).sum(axis=0), i.e. broadcast the row against b and reduce over K."
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
    for i in range(a.shape[0]):
        out[i] = (a[i][:, None] * b).sum(axis=0)
    return out
    #% endsolution


def matmul_blocked(a: np.ndarray, b: np.ndarray, block: int = 64) -> np.ndarray:
    """Tiled matmul: out[I, J] += a[I, P] @ b[P, J] over block x block tiles.

    Each tile triple (3·block² floats, 48 KB for block=64 in float32) fits in L2 cache, so every
    loaded value is reused block times before it is evicted. Edges smaller than a block are fine.
    """
    _check_matmul_shapes(a, b)
    if block < 1:
        raise ValueError(f"block must be a positive tile size, got {block}")
    #% solution hint="out = zeros((M, N)); loop i, j, p over range(0, size, block); out[i:i+block, j:j+block] += a[i:i+block, p:p+block] @ b[p:p+block, j:j+block]."
    m, k = a.shape
    n = b.shape[1]
    out = np.zeros((m, n), dtype=np.result_type(a, b))
    for i in range(0, m, block):
        for j in range(0, n, block):
            for p in range(0, k, block):
                out[i:i + block, j:j + block] += a[i:i + block, p:p + block] @ b[p:p + block, j:j + block]
    return out
    #% endsolution


# ---------------------------------------------------------------------- fusion
def gelu_unfused(x: np.ndarray) -> np.ndarray:
    """GELU, tanh form, written the obvious way: every operator allocates a new array (7 temporaries)."""
    return 0.5 * x * (1.0 + np.tanh(GELU_C * (x + GELU_K * x * x * x)))


def gelu_fused(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """GELU, tanh form, computed in one output buffer with in-place ufuncs (``out=``): no temporaries.

    Same values as ``gelu_unfused`` up to float32 rounding (x·x·x·K is grouped differently); memory
    traffic drops from about 14 passes over the tensor to about 8, and nothing is allocated
    when ``out`` is given. ``out`` may not be ``x`` itself (x is read until the last step).
    """
    if out is not None and (out.shape != x.shape or np.shares_memory(out, x)):
        raise ValueError("out must be a separate array with x's shape")
    #% solution hint="out = x*x; out *= x; out *= K; out += x; out *= C; tanh in place; out += 1; out *= x; out *= 0.5 — every step with out= or an in-place operator."
    out = np.multiply(x, x, out=out)
    out *= x
    out *= GELU_K
    out += x
    out *= GELU_C
    np.tanh(out, out=out)
    out += 1.0
    out *= x
    out *= 0.5
    return out
    #% endsolution


# ---------------------------------------------------------------------- convolution
def conv2d_loops(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                 stride: int = 1, padding: int = 0) -> np.ndarray:
    """Direct convolution: one dot product per (output pixel), looping over H_out x W_out in Python.

    x (N, C, H, W), weight (F, C, kh, kw), bias (F,) -> (N, F, H_out, W_out). Same result as
    module 09's Conv2d.forward; H_out·W_out small matmuls instead of one big one.
    """
    #% solution hint="Zero-pad x; for each output (i, j): take the window x[:, :, i*s:i*s+kh, j*s:j*s+kw] (N, C, kh, kw) and contract it with weight over C, kh, kw (tensordot or reshape + @); add bias."
    n, c, h, w = x.shape
    f, _, kh, kw = weight.shape
    h_out, w_out = output_size(h, kh, stride, padding), output_size(w, kw, stride, padding)
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    flat_weight = weight.reshape(f, -1).T
    out = np.empty((n, f, h_out, w_out), dtype=np.result_type(x, weight))
    for i in range(h_out):
        for j in range(w_out):
            window = padded[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = window.reshape(n, -1) @ flat_weight
    if bias is not None:
        out += bias[None, :, None, None]
    return out
    #% endsolution


def conv2d_im2col(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                  stride: int = 1, padding: int = 0) -> np.ndarray:
    """The same convolution as one matmul: im2col rows (N·H_out·W_out, kh·kw·C) @ weight matrix.

    Memory: the column matrix is kh·kw times the input (9x for 3x3); that copy buys one BLAS call.
    """
    #% solution hint="cols = im2col(x, (kh, kw), stride, padding); out = cols @ weight_matrix(weight).T (+ bias); reshape to (N, H_out, W_out, F) and transpose to NCHW."
    n, _, h, w = x.shape
    f, _, kh, kw = weight.shape
    h_out, w_out = output_size(h, kh, stride, padding), output_size(w, kw, stride, padding)
    out = im2col(x, (kh, kw), stride, padding) @ weight_matrix(weight).T
    if bias is not None:
        out += bias
    return out.reshape(n, h_out, w_out, f).transpose(0, 3, 1, 2)
    #% endsolution


# ---------------------------------------------------------------------- measuring
@dataclass(frozen=True)
class Speedup:
    """One row of a speedup table: a slow and a fast version of the same computation."""

    name: str
    baseline_ms: float
    optimized_ms: float
    max_abs_error: float

    @property
    def speedup(self) -> float:
        return self.baseline_ms / self.optimized_ms


def compare(name: str, baseline: Callable, optimized: Callable, *args, repeats: int = 5) -> Speedup:
    """Time both versions on the same inputs (median of ``repeats`` calls each) and check they agree."""
    #% solution hint="Run both once to compare outputs (max absolute difference); time each with measure_latency(fn, *args, warmup=1, repeats=repeats) and keep the p50."
    error = float(np.max(np.abs(np.asarray(baseline(*args), np.float64) - np.asarray(optimized(*args), np.float64))))
    slow = measure_latency(baseline, *args, warmup=1, repeats=repeats).p50_ms
    fast = measure_latency(optimized, *args, warmup=1, repeats=repeats).p50_ms
    return Speedup(name=name, baseline_ms=slow, optimized_ms=fast, max_abs_error=error)
    #% endsolution


def speedup_table(rows: list[Speedup]) -> str:
    """Plain-text table: name, baseline ms, optimized ms, speedup, max |difference|."""
    lines = [f"{'computation':<34}{'baseline ms':>13}{'optimized ms':>14}{'speedup':>10}{'max |diff|':>12}"]
    for row in rows:
        lines.append(f"{row.name:<34}{row.baseline_ms:>13.3f}{row.optimized_ms:>14.3f}"
                     f"{row.speedup:>9.1f}x{row.max_abs_error:>12.2e}")
    return "\n".join(lines)


def standard_comparisons(rng: np.random.Generator | None = None, scale: int = 1) -> list[Speedup]:
    """The module's measured table: matmul variants, GELU fusion, loops vs im2col (sizes grow with scale)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    small = rng.standard_normal((32 * scale, 32 * scale)).astype(np.float32)
    a = rng.standard_normal((128 * scale, 128 * scale)).astype(np.float32)
    b = rng.standard_normal((128 * scale, 128 * scale)).astype(np.float32)
    big = rng.standard_normal((2_000_000 * scale,)).astype(np.float32)
    images = rng.standard_normal((8, 16, 32, 32)).astype(np.float32)
    kernels = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    return [
        compare("matmul: naive loops -> BLAS", matmul_naive, np.matmul, small, small, repeats=2),
        compare("matmul: row-vectorized -> BLAS", matmul_vectorized, np.matmul, a, b),
        compare("matmul: blocked 64 -> BLAS", matmul_blocked, np.matmul, a, b),
        compare("gelu: unfused -> fused", gelu_unfused, gelu_fused, big),
        compare("conv2d 3x3: pixel loops -> im2col", lambda x, w: conv2d_loops(x, w, padding=1),
                lambda x, w: conv2d_im2col(x, w, padding=1), images, kernels),
    ]
