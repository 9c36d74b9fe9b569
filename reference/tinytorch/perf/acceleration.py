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

The second half builds **the accelerated path** the framework then uses. ``accelerate(model)``
returns a new model whose Conv2d, BatchNorm2d (+ the ReLU after it), MaxPool2d,
MultiHeadAttention, Linear, GELU, LayerNorm and Embedding layers are ``Accelerated*`` versions sharing the original parameters (one
optimizer trains both); everything else is kept as it is. The accelerated layers compute the
same values and gradients as modules 09 and 12 (to float32 rounding) with fewer passes over
memory:

- activations stay **channels-last** in memory between layers: each layer hands on an NCHW
  *view* of an (N, H, W, C) array, so the next layer's ``transpose`` back is free;
- a convolution's **input gradient is a transposed convolution** (im2col of the zero-bordered
  output gradient times the flipped weights: one GEMM) instead of col2im's kh·kw slice-adds;
- **BatchNorm and ReLU are one layer** computed from per-channel sums, with the ReLU mask taken
  from the output and the normalised input never stored;
- **attention is one Function**: scores, mask, softmax and the weighted sum in preallocated
  buffers, and one hand-written backward instead of five autograd nodes; the query, key and
  value projections are **one GEMM** whose output the attention reads through views;
- **Linear folds every leading axis into the rows of one GEMM** (forward and backward), where
  NumPy's batched matmul runs one small product per batch item;
- **GELU keeps its gate**: x·s with s = (1 + tanh u)/2 computed in place and saved, so backward
  neither recomputes tanh nor allocates a dozen temporaries, and needs 9 passes instead of 13;
- **LayerNorm in two arrays**: x̂ made in place from the centred input, sums of products as einsum
  contractions, the input gradient built in one buffer;
- **an Embedding's gradient is one flat scatter**: ``np.add.at`` into the (V·D,) table with 1-D
  positions, NumPy's fast path, instead of a scatter of whole rows.
"""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinytorch.core.activations import GELU, ReLU
from tinytorch.core.attention import MASK_VALUE, MultiHeadAttention
from tinytorch.core.autograd import Function
from tinytorch.core.embeddings import Embedding
from tinytorch.core.layers import Layer, Linear, Sequential
from tinytorch.core.spatial import BatchNorm2d, Conv2d, MaxPool2d, col2im, im2col, output_size, weight_matrix
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import LayerNorm
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
    #% solution kind="slow-path" fast="a @ b" hint="out = zeros((M, N)) in the result dtype; for i, for j: sum a[i, k] * b[k, j] over k in a Python loop."
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
    #% solution kind="slow-path" fast="a @ b" hint="For each row i: out[i] = (a[i][:, None] * b).sum(axis=0), i.e. broadcast the row against b and reduce over K."
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
    #% solution kind="slow-path" fast="a @ b" hint="out = zeros((M, N)); loop i, j, p over range(0, size, block); out[i:i+block, j:j+block] += a[i:i+block, p:p+block] @ b[p:p+block, j:j+block]."
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
    #% solution kind="in-place" hint="out = x*x; out *= x; out *= K; out += x; out *= C; tanh in place; out += 1; out *= x; out *= 0.5 — every step with out= or an in-place operator."
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
    #% solution kind="slow-path" fast="conv2d_im2col(x, weight, bias, stride, padding)" hint="Zero-pad x; for each output (i, j): take the window x[:, :, i*s:i*s+kh, j*s:j*s+kw] (N, C, kh, kw) and contract it with weight over C, kh, kw (tensordot or reshape + @); add bias."
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


# ====================================================================== the accelerated path
# Layers a model switches to explicitly with ``accelerate(model)``. Each holds the module-09/12
# layer it replaces and uses that layer's parameters, so both models train the same tensors.
def channels_last(x: np.ndarray) -> np.ndarray:
    """NCHW-shaped array -> the same values as an (N, H, W, C) C-contiguous array.

    Free (a view) when x is already an NCHW view of channels-last memory, which is what every
    accelerated layer returns; one copy otherwise (the network's input, module 09's layers).
    """
    view = x.transpose(0, 2, 3, 1)
    return view if view.flags.c_contiguous else np.ascontiguousarray(view)


def as_nchw(x_nhwc: np.ndarray) -> np.ndarray:
    """(N, H, W, C) array -> NCHW view of the same memory (no copy)."""
    return x_nhwc.transpose(0, 3, 1, 2)




def im2col_nhwc(padded: np.ndarray, kernel: tuple[int, int], stride: int, out: np.ndarray | None = None) -> np.ndarray:
    """Zero-bordered (N, H', W', C) -> receptive fields (N, H_out, W_out, kh, kw, C), one copy.

    Row (n, i, j) holds padded[n, i·s:i·s+kh, j·s:j·s+kw, :] in (di, dj, c) order, the column
    order of module 09's ``weight_matrix``; ``reshape(-1, kh·kw·C)`` of the result is free.
    ``out`` (that shape and dtype) is filled instead of allocating: reused buffers stay in cache.
    """
    #% solution hint="windows = sliding_window_view(padded, kernel, axis=(1, 2))[:, ::stride, ::stride] is (N, Ho, Wo, C, kh, kw); np.empty the (N, Ho, Wo, kh, kw, C) result unless out is given, and np.copyto the windows moved to that order."
    windows = sliding_window_view(padded, kernel, axis=(1, 2))[:, ::stride, ::stride]
    n, h_out, w_out, c = windows.shape[:4]
    if out is None:
        out = np.empty((n, h_out, w_out, *kernel, c), dtype=padded.dtype)
    np.copyto(out, windows.transpose(0, 1, 2, 4, 5, 3))
    return out
    #% endsolution


def flipped_weight_matrix(weight: np.ndarray) -> np.ndarray:
    """(F, C, kh, kw) -> (kh·kw·F, C): the weights of the transposed convolution.

    Row (di, dj, f) holds weight[f, :, kh-1-di, kw-1-dj]: the kernel turned by 180 degrees with
    input and output channels swapped, so im2col rows of the output gradient times this
    matrix give the input gradient.
    """
    #% solution hint="Reverse the two kernel axes (weight[:, :, ::-1, ::-1]), transpose to (kh, kw, F, C), reshape to (kh·kw·F, C)."
    f, c, kh, kw = weight.shape
    return weight[:, :, ::-1, ::-1].transpose(2, 3, 0, 1).reshape(kh * kw * f, c)
    #% endsolution


class Scratch:
    """Reused work buffers, one per (name, shape, dtype): allocated once, then rewritten every call.

    Large fresh allocations cost page faults and evict the cache; a chunk's buffers reused call
    after call stay hot. Zero-bordered buffers are only ever written inside their border, so the
    border stays zero without ``np.pad``. Contents are valid until the next call that uses them.
    """

    def __init__(self):
        self.buffers: dict = {}

    def empty(self, name: str, shape: tuple, dtype) -> np.ndarray:
        key = (name, tuple(shape), np.dtype(dtype).str)
        if key not in self.buffers:
            self.buffers[key] = np.zeros(shape, dtype=dtype)
        return self.buffers[key]

    def zero_bordered(self, name: str, inner: np.ndarray, border: tuple[int, int]) -> np.ndarray:
        """Copy (N, H, W, C) ``inner`` into the middle of a reused (N, H + 2·bh, W + 2·bw, C) zero-bordered buffer."""
        n, h, w, c = inner.shape
        bh, bw = border
        buffer = self.empty(name, (n, h + 2 * bh, w + 2 * bw, c), inner.dtype)
        buffer[:, bh:bh + h, bw:bw + w] = inner
        return buffer


def batch_chunks(batch: int, chunk: int) -> list[slice]:
    """[0:chunk], [chunk:2·chunk], ... covering range(batch)."""
    return [slice(start, min(start + chunk, batch)) for start in range(0, batch, chunk)]


def run_chunks(work: Callable[[slice, Scratch], None], chunks: list[slice], scratches: list[Scratch], threads) -> None:
    """Run ``work(chunk, scratch)`` for every chunk: in order, or spread over ``threads`` (a thread pool).

    NumPy releases the GIL inside copies and BLAS calls, so with one BLAS thread per worker
    the workers really run in parallel (data parallelism over the batch). Each worker owns one
    Scratch; chunk i goes to worker i mod workers.
    """
    workers = len(scratches)
    if threads is None or workers == 1:
        for chunk in chunks:
            work(chunk, scratches[0])
        return

    def worker(index: int) -> None:
        for chunk in chunks[index::workers]:
            work(chunk, scratches[index])

    map_parts(worker, list(range(workers)), threads)


def image_parts(batch: int, workers: int) -> list[slice]:
    """The batch cut into ``workers`` contiguous runs of images (fewer when the batch is smaller)."""
    return batch_chunks(batch, -(-batch // workers))


def map_parts(work: Callable, parts: list[slice], threads) -> list:
    """``[work(part) for part in parts]``, the parts spread over ``threads`` (a thread pool) when given.

    For the element-wise layers: NumPy releases the GIL inside every ufunc and reduction on large
    arrays, so each worker streams its own share of the batch through memory at the same time.
    The calling thread takes the first part itself: one hand-off fewer per call (a GPT step makes
    about seventy), and the pool's threads need not wake the caller to start.
    """
    if threads is None or len(parts) == 1:
        return [work(part) for part in parts]
    others = [threads.submit(work, part) for part in parts[1:]]
    first = work(parts[0])
    return [first] + [future.result() for future in others]


class AcceleratedLayer(Layer):
    """Base of the accelerated family (``accelerate`` leaves these as they are): ``workers``
    threads from a shared pool (``threads``; None runs everything on the calling thread)."""

    workers, threads = 1, None

    def share(self, work: Callable[[slice], object], count: int) -> list:
        """``work(part)`` for each worker's contiguous share of ``range(count)`` (rows, images or
        batch items), on the layer's threads; the results in order."""
        return map_parts(work, image_parts(count, self.workers), self.threads)


def _check_workers(chunk: int, workers: int, threads) -> None:
    if chunk < 1 or workers < 1:
        raise ValueError(f"chunk and workers must be positive, got chunk={chunk}, workers={workers}")
    if workers > 1 and threads is None:
        raise ValueError("workers > 1 needs a thread pool: accelerate(model, workers=2) makes one")


class AcceleratedConv2dBackward(Function):
    """Per chunk of images: the columns are rebuilt (recomputing beats storing 9x the input), the
    weight gradient gets one GEMM, and the input gradient (stride 1) is a transposed convolution:
    im2col of the zero-bordered output gradient times the flipped weights (one GEMM).
    Strided convolutions fall back to module 09's col2im."""

    @staticmethod
    def backward(ctx, grad):
        #% solution name="AcceleratedConv2dBackward.backward" hint="layer = ctx.saved['layer']; x_nhwc = channels_last(x); g = channels_last(grad); per chunk (layer.run): cols of the chunk (layer.columns), grad_w_part += g2.T @ cols; input gradient: stride 1 and padding < kernel -> im2col_nhwc of scratch.zero_bordered(g chunk, (kh-1-p, kw-1-p)) @ flipped_weight_matrix(W) into grad_x[chunk] with out=; else module 09's col2im. Skip the input gradient when x does not require grad (return None). Sum the workers' weight gradients; return as_nchw(grad_x), grad_w reshaped (F, kh, kw, C) -> (F, C, kh, kw), g.sum over (0, 1, 2) for the bias."
        x, weight = ctx.parents[0], ctx.parents[1]
        layer = ctx.saved["layer"]
        f, c, kh, kw = weight.shape
        p, stride = layer.conv.padding, layer.conv.stride
        x_nhwc, g = channels_last(x.data), channels_last(grad)
        grad_x = np.empty(x_nhwc.shape, dtype=g.dtype)
        grad_w_parts = [np.zeros((f, kh * kw * c), dtype=g.dtype) for _ in layer.scratches]
        transposed = stride == 1 and p < kh and p < kw
        flipped = flipped_weight_matrix(weight.data) if transposed else None
        wmat = weight_matrix(weight.data)

        def work(chunk: slice, scratch: Scratch) -> None:
            g2 = g[chunk].reshape(-1, f)
            cols = layer.columns(x_nhwc[chunk], scratch)
            grad_w_parts[layer.scratches.index(scratch)] += g2.T @ cols
            if not x.requires_grad:  # the network's input: no gradient to compute
                return
            if transposed:
                bordered = scratch.zero_bordered("grad", g[chunk], (kh - 1 - p, kw - 1 - p))
                n, h, w = x_nhwc[chunk].shape[:3]
                grad_cols = scratch.empty("grad_cols", (n, h, w, kh, kw, f), g.dtype)
                im2col_nhwc(bordered, (kh, kw), 1, out=grad_cols)
                np.matmul(grad_cols.reshape(-1, kh * kw * f), flipped, out=grad_x[chunk].reshape(-1, c))
            else:
                n, h_out, w_out = g[chunk].shape[:3]
                dcols = (g2 @ wmat).reshape(n, h_out, w_out, kh, kw, c)
                chunk_shape = (n, c, x_nhwc.shape[1], x_nhwc.shape[2])
                grad_x[chunk] = col2im(dcols, chunk_shape, (kh, kw), stride, p).transpose(0, 2, 3, 1)

        layer.run(work, x_nhwc.shape[0])
        grad_weight = sum(grad_w_parts).reshape(f, kh, kw, c).transpose(0, 3, 1, 2)
        grad_x = as_nchw(grad_x) if x.requires_grad else None
        if len(ctx.parents) == 3:
            return grad_x, grad_weight, g.sum(axis=(0, 1, 2))
        return grad_x, grad_weight
        #% endsolution


class AcceleratedConv2d(AcceleratedLayer):
    """Module 09's Conv2d, channels-last inside, in batch chunks: same parameters, values, gradients.

    x (N, C_in, H, W) -> (N, C_out, H_out, W_out), returned as an NCHW view of (N, H_out, W_out,
    C_out) memory. Per chunk of ``chunk`` images: a copy into a reused zero-bordered buffer, one
    im2col copy into a reused column buffer, one GEMM written straight into the output. A chunk's
    columns (4 images of 32x32x32, 3x3: 4.7 MB) stay near the cache where the whole batch's
    (151 MB at batch 128) would stream through memory twice; backward rebuilds them instead of
    keeping them. ``workers`` > 1 runs chunks on that many threads (``threads``, a shared pool).
    """

    def __init__(self, conv: Conv2d, chunk: int = 4, workers: int = 1, threads=None):
        _check_workers(chunk, workers, threads)
        self.conv, self.chunk, self.workers, self.threads = conv, chunk, workers, threads
        self.scratches = [Scratch() for _ in range(workers)]

    def run(self, work: Callable[[slice, Scratch], None], batch: int) -> None:
        """Apply ``work(chunk, scratch)`` to every chunk of the batch (threads when workers > 1)."""
        run_chunks(work, batch_chunks(batch, self.chunk), self.scratches, self.threads)

    def columns(self, x_nhwc: np.ndarray, scratch: Scratch) -> np.ndarray:
        """(n, H, W, C) chunk -> its (n·H_out·W_out, kh·kw·C) im2col rows, in a reused buffer."""
        conv = self.conv
        kh, kw = conv.kernel_size
        padded = scratch.zero_bordered("input", x_nhwc, (conv.padding, conv.padding))
        n, hp, wp, c = padded.shape
        h_out, w_out = (hp - kh) // conv.stride + 1, (wp - kw) // conv.stride + 1
        cols = scratch.empty("cols", (n, h_out, w_out, kh, kw, c), x_nhwc.dtype)
        return im2col_nhwc(padded, (kh, kw), conv.stride, out=cols).reshape(n * h_out * w_out, kh * kw * c)

    def forward(self, x: Tensor) -> Tensor:
        conv = self.conv
        if x.ndim != 4 or x.shape[1] != conv.in_channels:
            raise ValueError(f"AcceleratedConv2d expects input (N, {conv.in_channels}, H, W), got {x.shape}")
        #% solution name="AcceleratedConv2d.forward" kind="vectorized" hint="x_nhwc = channels_last(x.data); out = np.empty((N, Ho, Wo, F)); per chunk (self.run): np.matmul(self.columns(x_nhwc[chunk], scratch), weight_matrix(W).T, out=out[chunk].reshape(-1, F)); add the bias; return as_nchw(out) made with AcceleratedConv2dBackward, saving layer=self."
        n, _, h, w = x.shape
        kh, kw = conv.kernel_size
        h_out = output_size(h, kh, conv.stride, conv.padding)
        w_out = output_size(w, kw, conv.stride, conv.padding)
        x_nhwc = channels_last(x.data)
        out = np.empty((n, h_out, w_out, conv.out_channels), dtype=np.result_type(x.dtype, conv.weight.dtype))
        weights = weight_matrix(conv.weight.data).T

        def work(chunk: slice, scratch: Scratch) -> None:
            np.matmul(self.columns(x_nhwc[chunk], scratch), weights, out=out[chunk].reshape(-1, conv.out_channels))

        self.run(work, n)
        if conv.bias is not None:
            out += conv.bias.data
        parents = (x, conv.weight) if conv.bias is None else (x, conv.weight, conv.bias)
        return Tensor._make(as_nchw(out), AcceleratedConv2dBackward, *parents, layer=self)
        #% endsolution

    def __repr__(self) -> str:
        return f"Accelerated{self.conv!r} (chunk={self.chunk}, workers={self.workers})"


def channel_sums(rows: np.ndarray, width: int, times: np.ndarray | None = None) -> np.ndarray:
    """Per-channel sums of (N·H·W, C) channels-last rows, or of rows·times, read as (N·H, W·C) rows.

    Summing down wide rows keeps NumPy's inner loop W·C long (1,024 at 32x32x32) instead of C
    (32): same result, fewer, longer loops; the last W-fold sum is tiny. A sum of products
    (``times``, shaped like rows) is an einsum contraction: both arrays read once, no product
    array written and read back (two passes over memory fewer than multiply-then-sum), and the same row-by-row
    float32 accumulation as ``sum(axis=0)``.
    """
    c = rows.shape[1]
    wide = rows.reshape(-1, width * c)
    sums = wide.sum(axis=0) if times is None else np.einsum("ij,ij->j", wide, times.reshape(-1, width * c))
    return sums.reshape(width, c).sum(axis=0)


class AcceleratedBatchNormBackward(Function):
    """BatchNorm (+ReLU) backward from per-channel sums over the (N·H·W, C) rows.

    With c = x - μ, r = 1/sqrt(σ² + eps), g' = g·[out > 0] (ReLU) and a = γ·r:
    dx = a·g' - a·Σg'/M - c·γ·r³·Σ(g'·c)/M,  dγ = r·Σ(g'·c),  dβ = Σg'.
    Two passes over the batch's parts (on the layer's worker threads): the sums, then dx.
    """

    @staticmethod
    def backward(ctx, grad):
        #% solution name="AcceleratedBatchNormBackward.backward" hint="g = channels_last(grad).reshape(-1, C); grad_x, work = empty (M, C) buffers; g' = grad_x holding g * (out > 0) with ReLU, else g itself (never write into grad). Pass 1 per part of rows (layer.map_rows): fill g' there, return channel_sums of g' and channel_sums(g', times=centered) (no product array); add the parts' sums. Pass 2 per part: work = centered * (a·r²·Σg'c/M), grad_x = g' * a, -= a·Σg'/M, -= work. Return as_nchw(grad_x.reshape(N, H, W, C)), r·Σg'c, Σg'."
        x, gamma = ctx.parents[0], ctx.parents[1].data
        layer, centered, inv_std, out = ctx.saved["layer"], ctx.saved["centered"], ctx.saved["inv_std"], ctx.saved["out"]
        n, c, h, w = x.shape
        m = centered.shape[0]
        g = channels_last(grad).reshape(-1, c)
        grad_x, work = np.empty_like(g), np.empty_like(g)
        masked = grad_x if layer.relu else g  # g' lives in grad_x until pass 2 overwrites it

        def sums(rows: slice) -> tuple[np.ndarray, np.ndarray]:
            if layer.relu:
                np.multiply(g[rows], out[rows] > 0, out=grad_x[rows])
            return channel_sums(masked[rows], w), channel_sums(masked[rows], w, times=centered[rows])

        parts = layer.map_rows(sums, n, h * w)
        sum_g, sum_gc = sum(part[0] for part in parts), sum(part[1] for part in parts)
        scale = gamma * inv_std
        centered_scale, shift = scale * inv_std * inv_std * sum_gc / m, scale * sum_g / m

        def input_gradient(rows: slice) -> None:
            np.multiply(centered[rows], centered_scale, out=work[rows])
            np.multiply(masked[rows], scale, out=grad_x[rows])
            grad_x[rows] -= shift
            grad_x[rows] -= work[rows]

        layer.map_rows(input_gradient, n, h * w)
        return as_nchw(grad_x.reshape(n, h, w, c)), inv_std * sum_gc, sum_g
        #% endsolution


class AcceleratedBatchNorm2d(AcceleratedLayer):
    """Module 09's BatchNorm2d, optionally fused with the ReLU after it, on channels-last rows.

    Training: per-channel sums over the (N·H·W, C) rows, the output written in one buffer and
    clipped at 0 in place; running statistics are updated on the wrapped layer exactly as module
    09 does. Each pass runs on ``workers`` threads, one share of the batch each, and the workers'
    per-channel sums are added before the next pass. Evaluation: the wrapped layer (then ReLU).
    (N, C, H, W) -> same.
    """

    def __init__(self, batchnorm: BatchNorm2d, relu: bool = False, workers: int = 1, threads=None):
        _check_workers(1, workers, threads)
        self.batchnorm, self.relu, self.workers, self.threads = batchnorm, relu, workers, threads

    def map_rows(self, work: Callable[[slice], object], batch: int, rows_per_image: int) -> list:
        """``work(rows)`` for each worker's share of the (N·H·W, C) rows (whole images), on the threads."""
        parts = [slice(part.start * rows_per_image, part.stop * rows_per_image)
                 for part in image_parts(batch, self.workers)]
        return map_parts(work, parts, self.threads)

    def forward(self, x: Tensor) -> Tensor:
        bn = self.batchnorm
        if x.ndim != 4 or x.shape[1] != bn.num_features:
            raise ValueError(f"AcceleratedBatchNorm2d expects input (N, {bn.num_features}, H, W), got {x.shape}")
        if not self.training:
            out = bn._normalise_with_running_stats(x)
            return ReLU()(out) if self.relu else out
        #% solution name="AcceleratedBatchNorm2d.forward" hint="rows = channels_last(x.data).reshape(-1, C) (M rows); three passes with self.map_rows over the workers' rows, adding their per-channel sums between passes: mean = Σ channel_sums(rows) / M; centered = rows - mean (into a preallocated buffer), var = Σ channel_sums(centered, times=centered) / M (no squared array); r = 1/sqrt(var + eps); out = centered·(γ·r) + β, clipped at a zero row in place if ReLU. Update bn.running_mean / running_var as module 09 (unbiased var); save layer, centered, inv_std, out."
        n, c, h, w = x.shape
        rows = channels_last(x.data).reshape(-1, c)
        m = rows.shape[0]
        mean = sum(self.map_rows(lambda part: channel_sums(rows[part], w), n, h * w)) / m
        centered, out = np.empty_like(rows), np.empty_like(rows)

        def squares(part: slice) -> np.ndarray:
            np.subtract(rows[part], mean, out=centered[part])
            return channel_sums(centered[part], w, times=centered[part])

        var = sum(self.map_rows(squares, n, h * w)) / m
        inv_std = 1 / np.sqrt(var + x.dtype.type(bn.eps))
        scale, zero_row = bn.gamma.data * inv_std, np.zeros(c, dtype=out.dtype)

        def normalise(part: slice) -> None:
            np.multiply(centered[part], scale, out=out[part])
            out[part] += bn.beta.data
            if self.relu:
                np.maximum(out[part], zero_row, out=out[part])

        self.map_rows(normalise, n, h * w)
        bn.running_mean = (1 - bn.momentum) * bn.running_mean + bn.momentum * mean
        bn.running_var = (1 - bn.momentum) * bn.running_var + bn.momentum * var * (m / max(m - 1, 1))
        return Tensor._make(as_nchw(out.reshape(n, h, w, c)), AcceleratedBatchNormBackward, x, bn.gamma, bn.beta,
                            layer=self, centered=centered, inv_std=inv_std, out=out)
        #% endsolution

    def __repr__(self) -> str:
        return f"Accelerated{self.batchnorm!r}" + (" + ReLU (fused)" if self.relu else "")


def pool_blocks(x_nhwc: np.ndarray, kernel: int) -> np.ndarray:
    """(N, H, W, C) -> (N, H_out, k, W_out, k, C) view of the non-overlapping k x k windows
    (rows and columns past the last whole window are dropped, as module 09 does). Always a view:
    the reshape only splits axes, so writing into the blocks writes into ``x_nhwc``."""
    n, h, w, c = x_nhwc.shape
    h_out, w_out = h // kernel, w // kernel
    return x_nhwc[:, :h_out * kernel, :w_out * kernel].reshape(n, h_out, kernel, w_out, kernel, c)


class AcceleratedMaxPool2dBackward(Function):
    """Each output's gradient goes to the first position (row-major in its window) holding the max,
    the position module 09 picks; each worker routes its share of the batch."""

    @staticmethod
    def backward(ctx, grad):
        #% solution name="AcceleratedMaxPool2dBackward.backward" hint="x_nhwc = channels_last(x); g = channels_last(grad); grad_x = zeros (N, H, W, C). Per part of images (layer.map_images): blocks = pool_blocks(x_nhwc[part], k), grad_blocks = pool_blocks(grad_x[part], k) (a view); taken = zeros like out[part], bool; for di, dj in row-major order: hit = (blocks[:, :, di, :, dj] == out[part]) & ~taken; taken |= hit; np.multiply(g[part], hit, out=grad_blocks[:, :, di, :, dj]). Return as_nchw(grad_x)."
        x = ctx.parents[0]
        layer, out, k = ctx.saved["layer"], ctx.saved["out"], ctx.saved["kernel"]
        x_nhwc, g = channels_last(x.data), channels_last(grad)
        grad_x = np.zeros(x_nhwc.shape, dtype=g.dtype)

        def route(part: slice) -> None:
            blocks, grad_blocks = pool_blocks(x_nhwc[part], k), pool_blocks(grad_x[part], k)  # views
            taken = np.zeros(out[part].shape, dtype=bool)
            for di in range(k):
                for dj in range(k):
                    hit = blocks[:, :, di, :, dj] == out[part]
                    hit &= ~taken
                    taken |= hit
                    np.multiply(g[part], hit, out=grad_blocks[:, :, di, :, dj])

        layer.map_images(route, x_nhwc.shape[0])
        return (as_nchw(grad_x),)
        #% endsolution


class AcceleratedMaxPool2d(AcceleratedLayer):
    """Module 09's MaxPool2d for non-overlapping windows (stride == kernel), on channels-last memory:
    k² element-wise maxima over the blocks of a free reshape, each worker on its share of the batch."""

    def __init__(self, pool: MaxPool2d, workers: int = 1, threads=None):
        if pool.stride != pool.kernel_size:
            raise ValueError(f"AcceleratedMaxPool2d needs stride == kernel_size, got {pool!r}; keep module 09's layer")
        _check_workers(1, workers, threads)
        self.pool, self.workers, self.threads = pool, workers, threads

    def map_images(self, work: Callable[[slice], None], batch: int) -> None:
        """``work(images)`` for each worker's share of the batch, on the threads."""
        self.share(work, batch)

    def forward(self, x: Tensor) -> Tensor:
        #% solution name="AcceleratedMaxPool2d.forward" hint="x_nhwc = channels_last(x.data); out = empty (N, H // k, W // k, C); per part of images (self.map_images): blocks = pool_blocks(x_nhwc[part], k); copy blocks[:, :, 0, :, 0] into out[part], then np.maximum(out[part], blocks[:, :, di, :, dj], out=out[part]) for the other offsets; return as_nchw(out) made with AcceleratedMaxPool2dBackward, saving layer, out and kernel."
        k = self.pool.kernel_size
        x_nhwc = channels_last(x.data)
        n, h, w, c = x_nhwc.shape
        out = np.empty((n, h // k, w // k, c), dtype=x_nhwc.dtype)

        def pool_part(part: slice) -> None:
            blocks = pool_blocks(x_nhwc[part], k)
            np.copyto(out[part], blocks[:, :, 0, :, 0])
            for di in range(k):
                for dj in range(k):
                    if di or dj:
                        np.maximum(out[part], blocks[:, :, di, :, dj], out=out[part])

        self.map_images(pool_part, n)
        return Tensor._make(as_nchw(out), AcceleratedMaxPool2dBackward, x, layer=self, out=out, kernel=k)
        #% endsolution

    def __repr__(self) -> str:
        return f"Accelerated{self.pool!r}"


class AcceleratedLinearBackward(Function):
    """Linear's gradients as 2-D GEMMs over the rows: with X (R, in) and G (R, out), R = every
    leading position flattened, dX = G Wᵀ (each worker its rows), dW = Xᵀ G (one GEMM per worker,
    not one per batch item, then the workers' parts added) and db = Σ_rows G."""

    @staticmethod
    def backward(ctx, grad):
        #% solution name="AcceleratedLinearBackward.backward" hint="x2 = x.reshape(-1, in), g2 = grad.reshape(-1, out); grad_x = empty like x2; per worker's rows (layer.share over R): np.matmul(g2[rows], W.T, out=grad_x[rows]) and return (x2[rows].T @ g2[rows], g2[rows].sum(0)); dW and db are the sums of the parts; dx is grad_x reshaped like x; db only when there is a bias."
        x, weight = ctx.parents[0].data, ctx.parents[1].data
        g2 = grad.reshape(-1, weight.shape[1])
        x2 = x.reshape(-1, weight.shape[0])
        grad_x = np.empty(x2.shape, dtype=np.result_type(g2, weight))

        def rows_part(rows: slice) -> tuple[np.ndarray, np.ndarray]:
            np.matmul(g2[rows], weight.T, out=grad_x[rows])
            return x2[rows].T @ g2[rows], g2[rows].sum(axis=0)

        parts = ctx.saved["layer"].share(rows_part, g2.shape[0])
        grads = [grad_x.reshape(x.shape), sum(part[0] for part in parts)]
        if len(ctx.parents) == 3:
            grads.append(sum(part[1] for part in parts))
        return tuple(grads)
        #% endsolution


class AcceleratedLinear(AcceleratedLayer):
    """Module 03's Linear with every leading axis folded into the rows of 2-D GEMMs.

    x (..., in) -> (..., out). NumPy's matmul of a (B, T, in) array by an (in, out) matrix, and
    above all its backward ((B, in, T) @ (B, T, out) then a sum over B), runs B small products; a
    (B·T, in) @ (in, out) product gives BLAS a matrix big enough to run at full speed. With
    ``workers`` > 1 each worker multiplies its share of the rows (BLAS at one thread each).
    """

    def __init__(self, linear: Linear, workers: int = 1, threads=None):
        _check_workers(1, workers, threads)
        self.linear, self.workers, self.threads = linear, workers, threads

    def forward(self, x: Tensor) -> Tensor:
        linear = self.linear
        if x.shape[-1] != linear.in_features:
            raise ValueError(f"AcceleratedLinear expects (..., {linear.in_features}), got {x.shape}")
        #% solution name="AcceleratedLinear.forward" hint="rows = x.data.reshape(-1, in); out = empty (R, out); per worker's rows (self.share over R): np.matmul(rows[part], W, out=out[part]), += bias; reshape to (*x.shape[:-1], out); parents x, W (and b) with AcceleratedLinearBackward, saving layer=self."
        rows = x.data.reshape(-1, linear.in_features)
        out = np.empty((rows.shape[0], linear.out_features), dtype=np.result_type(rows, linear.weight.data))

        def rows_part(part: slice) -> None:
            np.matmul(rows[part], linear.weight.data, out=out[part])
            if linear.bias is not None:
                out[part] += linear.bias.data

        self.share(rows_part, rows.shape[0])
        parents = (x, linear.weight) if linear.bias is None else (x, linear.weight, linear.bias)
        return Tensor._make(out.reshape(*x.shape[:-1], linear.out_features), AcceleratedLinearBackward, *parents,
                            layer=self)
        #% endsolution

    def __repr__(self) -> str:
        return f"Accelerated{self.linear!r}"


def serial(work: Callable[[slice], object], count: int) -> list:
    """``work`` on all of ``range(count)`` at once, on the calling thread (a one-worker ``share``)."""
    return [work(slice(0, count))]


def attention_forward(q: np.ndarray, k: np.ndarray, v: np.ndarray, keep, out: np.ndarray,
                      share: Callable = serial) -> tuple[np.ndarray, np.floating]:
    """softmax(q kᵀ / √d, masked) v written into ``out``; returns the weights, transposed, and the score scale.

    q (B, ..., T_q, d), k (B, ..., T_k, d), v (B, ..., T_k, d_v), out (B, ..., T_q, d_v) (any strides),
    ``keep`` None or a bool array broadcast to the scores' shape (B, ..., T_q, T_k) (True = attend).
    The scores are held transposed, Sᵀ = k qᵀ (B, ..., T_k, T_q): the softmax's max and sum over
    the keys then run down axis -2, element-wise across whole rows of T_q queries, where a reduction
    along a short last axis (T_k = 64) is about three times slower in NumPy. The one buffer is
    scored, scaled, masked, exponentiated and normalised in place: it becomes the weights Pᵀ, the
    only T² array kept for backward. ``share`` cuts axis 0 over the workers.
    """
    #% solution name="attention_forward" kind="vectorized" hint="scale = 1/sqrt(d) in q's dtype; scores_t = empty (..., T_k, T_q); per share b of axis 0 (share(work, len(q))): np.matmul(k[b], swapaxes(q[b]), out=scores_t[b]); *= scale; np.copyto(scores_t[b], MASK_VALUE, where=swapaxes(~keep[b])) when masked; subtract the maximum over axis -2 (the keys), np.exp in place, divide by the sum over axis -2 in place; np.matmul(swapaxes(scores_t[b]), v[b], out=out[b]). Return scores_t, scale."
    scale = q.dtype.type(1.0 / np.sqrt(q.shape[-1]))
    scores_t = np.empty((*q.shape[:-2], k.shape[-2], q.shape[-2]), dtype=np.result_type(q, k))

    def batch_part(b: slice) -> None:
        part = scores_t[b]
        np.matmul(k[b], np.swapaxes(q[b], -1, -2), out=part)
        part *= scale
        if keep is not None:
            np.copyto(part, part.dtype.type(MASK_VALUE), where=np.swapaxes(~keep[b], -1, -2))
        part -= part.max(axis=-2, keepdims=True)
        np.exp(part, out=part)
        part /= part.sum(axis=-2, keepdims=True)
        np.matmul(np.swapaxes(part, -1, -2), v[b], out=out[b])

    share(batch_part, q.shape[0])
    return scores_t, scale
    #% endsolution


def attention_backward(q: np.ndarray, k: np.ndarray, v: np.ndarray, weights_t: np.ndarray, scale, grad: np.ndarray,
                       grads: tuple[np.ndarray, np.ndarray, np.ndarray], share: Callable = serial) -> None:
    """Attention's whole rule, written into ``grads`` = (dq, dk, dv) (arrays shaped like q, k, v, any strides),
    from the forward's transposed weights Pᵀ (B, ..., T_k, T_q):

    dV = Pᵀg, dPᵀ = V gᵀ, dSᵀ = Pᵀ·(dPᵀ - Σ_keys dPᵀ·Pᵀ)·scale, dQ = (dSᵀ)ᵀ K, dK = dSᵀ Q (matmuls
    over the last two axes; the softmax's sum again runs down axis -2), each worker its share of axis 0.
    """
    #% solution name="attention_backward" hint="grad_q, grad_k, grad_v = grads; per share b of axis 0: np.matmul(Pt[b], g[b], out=grad_v[b]); dpt = v[b] @ swapaxes(g[b]) (T_k, T_q); dpt -= np.einsum('...kq,...kq->...q', dpt, Pt[b])[..., None, :] (the per-query sums of dP·P without a product array); dpt *= Pt[b]; dpt *= scale (in place); np.matmul(swapaxes(dpt), k[b], out=grad_q[b]); np.matmul(dpt, q[b], out=grad_k[b])."
    grad_q, grad_k, grad_v = grads

    def batch_part(b: slice) -> None:
        np.matmul(weights_t[b], grad[b], out=grad_v[b])
        d_scores_t = np.matmul(v[b], np.swapaxes(grad[b], -1, -2))
        d_scores_t -= np.einsum("...kq,...kq->...q", d_scores_t, weights_t[b])[..., None, :]  # no product array
        d_scores_t *= weights_t[b]
        d_scores_t *= scale
        np.matmul(np.swapaxes(d_scores_t, -1, -2), k[b], out=grad_q[b])
        np.matmul(d_scores_t, q[b], out=grad_k[b])

    share(batch_part, q.shape[0])
    #% endsolution


def _keep(mask, shape: tuple) -> np.ndarray | None:
    """A mask (array or Tensor, True/1 = attend) as a bool array broadcast to ``shape``; None stays None."""
    if mask is None:
        return None
    return np.broadcast_to(np.asarray(mask.data if isinstance(mask, Tensor) else mask).astype(bool), shape)


class FusedAttentionBackward(Function):
    """``attention_backward`` on the saved arrays (with their batch axis), reshaped like Q, K, V."""

    @staticmethod
    def backward(ctx, grad):
        q, k, v = ctx.saved["q"], ctx.saved["k"], ctx.saved["v"]
        grad = grad.reshape(*q.shape[:-1], v.shape[-1])
        grads = tuple(np.empty(t.shape, dtype=np.result_type(t, grad)) for t in (q, k, v))
        attention_backward(q, k, v, ctx.saved["weights_t"], ctx.saved["scale"], grad, grads, ctx.saved["share"])
        return tuple(g.reshape(parent.shape) for g, parent in zip(grads, ctx.parents))


def fused_attention(Q: Tensor, K: Tensor, V: Tensor, mask=None, share: Callable = serial) -> Tensor:
    """softmax(Q Kᵀ / √d, masked) V as one autograd node, the same values as module 12's
    ``scaled_dot_product_attention`` output.

    Shapes: Q (..., T_q, d), K (..., T_k, d), V (..., T_k, d_v) -> (..., T_q, d_v); one T² array kept
    for backward where the composed version keeps four. ``share`` spreads the first axis over
    worker threads (an accelerated layer's ``share``); the default runs it all on this thread.
    """
    q, k, v = Q.data, K.data, V.data
    if q.ndim == 2:  # one attention matrix: a batch of one, so that share splits batch items, never rows
        q, k, v = q[None], k[None], v[None]
    out = np.empty((*q.shape[:-1], v.shape[-1]), dtype=np.result_type(q, k, v))
    weights_t, scale = attention_forward(q, k, v, _keep(mask, (*q.shape[:-1], k.shape[-2])), out, share)
    return Tensor._make(out.reshape(*Q.shape[:-1], V.shape[-1]), FusedAttentionBackward, Q, K, V,
                        q=q, k=k, v=v, weights_t=weights_t, scale=scale, share=share)


def stackable(attention: MultiHeadAttention) -> bool:
    """True when the query, key and value projections all have a bias or all have none."""
    return len({proj.bias is None for proj in (attention.q_proj, attention.k_proj, attention.v_proj)}) == 1


class QKVProjectionBackward(Function):
    """The three projections' gradients from one (R, 3D) gradient G: dX = G [Wq|Wk|Wv]ᵀ (one GEMM with
    3D terms per output where three GEMMs of D terms and two sums of (R, D) arrays were), and
    [dWq|dWk|dWv] = Xᵀ G, [dbq|dbk|dbv] = Σ_rows G, cut into the three parameters."""

    @staticmethod
    def backward(ctx, grad):
        #% solution name="QKVProjectionBackward.backward" hint="x2 = x.reshape(-1, D); g2 = grad.reshape(-1, 3D); w = the saved (D, 3D) weights; grad_x = empty like x2; per worker's rows (layer.share): np.matmul(g2[rows], w.T, out=grad_x[rows]), return (x2[rows].T @ g2[rows], g2[rows].sum(0)); add the parts; return grad_x reshaped like x, the three (D, D) column blocks of dW, then (with biases) the three blocks of db."
        x, w = ctx.parents[0].data, ctx.saved["weight"]
        d = x.shape[-1]
        x2, g2 = x.reshape(-1, d), grad.reshape(-1, 3 * d)
        grad_x = np.empty(x2.shape, dtype=np.result_type(g2, w))

        def rows_part(rows: slice) -> tuple[np.ndarray, np.ndarray]:
            np.matmul(g2[rows], w.T, out=grad_x[rows])
            return x2[rows].T @ g2[rows], g2[rows].sum(axis=0)

        parts = ctx.saved["layer"].share(rows_part, x2.shape[0])
        grad_w, grad_b = sum(part[0] for part in parts), sum(part[1] for part in parts)
        thirds = [slice(i * d, (i + 1) * d) for i in range(3)]
        grads = [grad_x.reshape(x.shape)] + [grad_w[:, third] for third in thirds]
        if len(ctx.parents) == 7:
            grads += [grad_b[third] for third in thirds]
        return tuple(grads)
        #% endsolution


class SelfAttentionBackward(Function):
    """``attention_backward`` writing dQ, dK, dV straight into the three thirds of one (B, T, 3D)
    gradient: the projection's gradient as it needs it, with no split, copy or sum."""

    @staticmethod
    def backward(ctx, grad):
        layer, (q, k, v) = ctx.saved["layer"], ctx.saved["qkv"]
        grad_qkv = np.empty(ctx.parents[0].shape, dtype=grad.dtype)
        grad_heads = layer.heads(grad)[0]  # (B, T, D) -> (B, H, T, d) view
        attention_backward(q, k, v, ctx.saved["weights_t"], ctx.saved["scale"], grad_heads,
                           tuple(layer.heads(grad_qkv)), layer.share)
        return (grad_qkv,)


class AcceleratedMultiHeadAttention(AcceleratedLayer):
    """Module 12's MultiHeadAttention with the query, key and value projections as one GEMM, the
    attention as one node reading that GEMM's output in place, and the output projection as an
    AcceleratedLinear (same parameter tensors). (B, T, D) -> (B, T, D).

    The (B, T, 3D) projection is viewed as (3, B, H, T, d) (strides only), and the attention writes
    its (B, T, D) output through a (B, H, T, d) view: module 12's split and merge of heads, and their
    copies in backward, are gone.
    """

    def __init__(self, attention: MultiHeadAttention, workers: int = 1, threads=None):
        _check_workers(1, workers, threads)
        if not stackable(attention):
            raise ValueError(f"the query, key and value projections of {attention!r} do not all have a bias, or all "
                             "none, so they cannot be stacked into one GEMM; keep module 12's layer")
        self.attention, self.workers, self.threads = attention, workers, threads
        self.out_proj = AcceleratedLinear(attention.out_proj, workers, threads)

    def heads(self, rows: np.ndarray) -> np.ndarray:
        """(B, T, P·D) array of P stacked (B, T, D) projections -> (P, B, H, T, d) view."""
        b, t, width = rows.shape
        heads, head_dim = self.attention.num_heads, self.attention.head_dim
        return rows.reshape(b, t, width // (heads * head_dim), heads, head_dim).transpose(2, 0, 3, 1, 4)

    def project_qkv(self, x: Tensor) -> Tensor:
        """x (B, T, D) -> [x Wq + bq | x Wk + bk | x Wv + bv] (B, T, 3D), one GEMM per worker's rows."""
        projections = [self.attention.q_proj, self.attention.k_proj, self.attention.v_proj]
        biased = projections[0].bias is not None  # all three or none (stackable)
        #% solution name="AcceleratedMultiHeadAttention.project_qkv" hint="w = np.concatenate of the three (D, D) weights along axis 1 (D, 3D), b likewise when all three have a bias; rows = x.data.reshape(-1, D); out = empty (R, 3D); per worker's rows (self.share): np.matmul(rows[part], w, out=out[part]), += b; Tensor._make(out reshaped (B, T, 3D), QKVProjectionBackward, x, the three weights (then the three biases), weight=w, layer=self)."
        weight = np.concatenate([proj.weight.data for proj in projections], axis=1)
        bias = np.concatenate([proj.bias.data for proj in projections]) if biased else None
        rows = x.data.reshape(-1, x.shape[-1])
        out = np.empty((rows.shape[0], weight.shape[1]), dtype=np.result_type(rows, weight))

        def rows_part(part: slice) -> None:
            np.matmul(rows[part], weight, out=out[part])
            if bias is not None:
                out[part] += bias

        self.share(rows_part, rows.shape[0])
        parents = [x] + [proj.weight for proj in projections] + ([proj.bias for proj in projections] if biased else [])
        return Tensor._make(out.reshape(*x.shape[:2], weight.shape[1]), QKVProjectionBackward, *parents,
                            weight=weight, layer=self)
        #% endsolution

    def forward(self, x: Tensor, mask=None, causal: bool = False) -> Tensor:
        mha = self.attention
        if x.ndim != 3 or x.shape[-1] != mha.embed_dim:
            raise ValueError(f"AcceleratedMultiHeadAttention expects (batch, seq, {mha.embed_dim}), got {x.shape}")
        if causal:
            causal_keep = np.tril(np.ones((x.shape[1], x.shape[1]), dtype=bool))
            mask = causal_keep if mask is None else np.logical_and(mask, causal_keep)
        qkv = self.project_qkv(x)
        q, k, v = self.heads(qkv.data)
        out = np.empty(x.shape, dtype=qkv.dtype)
        weights_t, scale = attention_forward(q, k, v, _keep(mask, (*q.shape[:-1], k.shape[-2])),
                                           self.heads(out)[0], self.share)
        attended = Tensor._make(out, SelfAttentionBackward, qkv, layer=self, qkv=(q, k, v), weights_t=weights_t, scale=scale)
        return self.out_proj(attended)

    def __repr__(self) -> str:
        return f"Accelerated{self.attention!r}"


class AcceleratedGELUBackward(Function):
    """GELU's derivative from the saved gate s = (1 + tanh u)/2, u = C(x + Kx³): as 1 - tanh² u = 4s(1 - s),
    d = s + s(1 - s)·x·(2C + 6CKx²), in two work buffers (9 passes where the tanh form takes 13), no tanh recomputed."""

    @staticmethod
    def backward(ctx, grad):
        #% solution name="AcceleratedGELUBackward.backward" hint="x, s = the flat input and saved gate; slope, work = empty like them; per worker's share (layer.share over the flat length), on [p] slices: work = x*x, *= 6CK, += 2C, *= x; slope = 1 - s, *= s, *= work, += s, *= grad (all with out= or in place). Return slope reshaped like grad."
        x, gate = ctx.parents[0].data.reshape(-1), ctx.saved["gate"]
        g = grad.reshape(-1)
        slope, work = np.empty_like(gate), np.empty_like(gate)

        def flat_part(p: slice) -> None:
            xp, sp, wp, dp = x[p], gate[p], work[p], slope[p]
            np.multiply(xp, xp, out=wp)
            wp *= 6 * GELU_C * GELU_K
            wp += 2 * GELU_C
            wp *= xp
            np.subtract(1, sp, out=dp)
            dp *= sp
            dp *= wp
            dp += sp
            dp *= g[p]

        ctx.saved["layer"].share(flat_part, gate.size)
        return (slope.reshape(grad.shape),)
        #% endsolution


class AcceleratedGELU(AcceleratedLayer):
    """Module 02's GELU (tanh form) computed in place as x·s with the gate s = (1 + tanh u)/2 kept for
    backward, each worker its share of the elements. Any shape -> same."""

    def __init__(self, workers: int = 1, threads=None):
        _check_workers(1, workers, threads)
        self.workers, self.threads = workers, threads

    def forward(self, x: Tensor) -> Tensor:
        #% solution name="AcceleratedGELU.forward" hint="flat = x.data.reshape(-1); gate, out = empty like it; per worker's share (self.share over the length), on [p] slices: gate = x*x, *= CK, += C, *= x (that is u = C(x + Kx³)), tanh in place, *= 0.5, += 0.5 (the gate, saved); out = x * gate; Tensor._make(out reshaped like x, AcceleratedGELUBackward, x, gate=gate, layer=self)."
        flat = x.data.reshape(-1)
        gate, out = np.empty_like(flat), np.empty_like(flat)

        def flat_part(p: slice) -> None:
            xp, sp = flat[p], gate[p]
            np.multiply(xp, xp, out=sp)
            sp *= GELU_C * GELU_K
            sp += GELU_C
            sp *= xp
            np.tanh(sp, out=sp)
            sp *= 0.5
            sp += 0.5
            np.multiply(xp, sp, out=out[p])

        self.share(flat_part, flat.size)
        return Tensor._make(out.reshape(x.shape), AcceleratedGELUBackward, x, gate=gate, layer=self)
        #% endsolution

    def __repr__(self) -> str:
        return "AcceleratedGELU()"


class AcceleratedLayerNormBackward(Function):
    """Module 13's LayerNorm rule in row means, dx = r·(d - mean(d) - x̂·mean(d·x̂)) with d = g·γ, built in
    d's buffer (module 13's r/D·(D·d - Σd - x̂·Σ(d·x̂)) costs one more pass: the D·d); the sums of
    products (d·x̂ per row, dγ = Σ g·x̂ per feature) are einsum contractions, which read both arrays once
    and write no product array. Each worker takes its share of the rows."""

    @staticmethod
    def backward(ctx, grad):
        #% solution name="AcceleratedLayerNormBackward.backward" hint="x_hat (R, D) and inv_std (R, 1) saved; g = grad.reshape(-1, D); d = empty like g (the one work buffer); per worker's rows (layer.share over R), on [r] slices: d = g * gamma; mean_d = d.mean(1, keepdims=True), mean_dx = np.einsum('ij,ij->i', d, x_hat)[:, None] / D; in place: d -= mean_d, d -= x_hat * mean_dx, d *= inv_std; return the part's dγ = np.einsum('ij,ij->j', g, x_hat) and dβ = g.sum(0). Add the parts; dx is d reshaped like grad."
        x_hat, inv_std, gamma = ctx.saved["x_hat"], ctx.saved["inv_std"], ctx.parents[1].data
        features = x_hat.shape[1]
        g = grad.reshape(-1, features)
        d = np.empty(g.shape, dtype=np.result_type(g, gamma))

        def rows_part(r: slice) -> tuple[np.ndarray, np.ndarray]:
            dr, xr = d[r], x_hat[r]
            np.multiply(g[r], gamma, out=dr)
            mean_d = dr.mean(axis=1, keepdims=True)
            mean_dx = np.einsum("ij,ij->i", dr, xr)[:, None] / features
            dr -= mean_d
            dr -= xr * mean_dx
            dr *= inv_std[r]
            return np.einsum("ij,ij->j", g[r], xr), g[r].sum(axis=0)

        parts = ctx.saved["layer"].share(rows_part, g.shape[0])
        return d.reshape(grad.shape), sum(part[0] for part in parts), sum(part[1] for part in parts)
        #% endsolution


class AcceleratedLayerNorm(AcceleratedLayer):
    """Module 13's LayerNorm over (rows, D), with two full-size arrays instead of five.

    x (..., D) -> same. The centred input becomes x̂ in place, the variance is a row-wise einsum
    of it with itself (no squared array), and the output is written once and shifted in place;
    backward keeps x̂ and 1/σ (one value per row), as module 13 does. Each worker takes its
    share of the rows.
    """

    def __init__(self, layernorm: LayerNorm, workers: int = 1, threads=None):
        _check_workers(1, workers, threads)
        self.layernorm, self.workers, self.threads = layernorm, workers, threads

    def forward(self, x: Tensor) -> Tensor:
        ln = self.layernorm
        if x.shape[-1] != ln.normalized_shape:
            raise ValueError(f"AcceleratedLayerNorm expects (..., {ln.normalized_shape}), got {x.shape}")
        #% solution name="AcceleratedLayerNorm.forward" hint="rows = x.data.reshape(-1, D); x_hat, out = empty like rows, inv_std = empty (R, 1); per worker's rows (self.share over R), on [r] slices: x_hat = rows - rows.mean(1, keepdims=True); var = np.einsum('ij,ij->i', x_hat, x_hat)[:, None] / D; inv_std = 1 / np.sqrt(var + eps) (in x's dtype); x_hat *= inv_std; out = x_hat * gamma, += beta. Reshape out like x; Tensor._make(out, AcceleratedLayerNormBackward, x, gamma, beta, x_hat=x_hat, inv_std=inv_std, layer=self)."
        features, eps = ln.normalized_shape, x.dtype.type(ln.eps)
        rows = x.data.reshape(-1, features)
        x_hat, out = np.empty_like(rows), np.empty_like(rows)
        inv_std = np.empty((rows.shape[0], 1), dtype=rows.dtype)

        def rows_part(r: slice) -> None:
            xr = x_hat[r]
            np.subtract(rows[r], rows[r].mean(axis=1, keepdims=True), out=xr)
            variance = np.einsum("ij,ij->i", xr, xr)[:, None] / features
            np.sqrt(variance + eps, out=inv_std[r])
            np.divide(1, inv_std[r], out=inv_std[r])
            xr *= inv_std[r]
            np.multiply(xr, ln.gamma.data, out=out[r])
            out[r] += ln.beta.data

        self.share(rows_part, rows.shape[0])
        return Tensor._make(out.reshape(x.shape), AcceleratedLayerNormBackward, x, ln.gamma, ln.beta,
                            x_hat=x_hat, inv_std=inv_std, layer=self)
        #% endsolution

    def __repr__(self) -> str:
        return f"Accelerated{self.layernorm!r}"


class AcceleratedEmbeddingBackward(Function):
    """Module 11's scatter-add into the table, as one scatter into the flat (V·D,) table: element j of
    the vector looked up for id i goes to position i·D + j. NumPy's ``ufunc.at`` runs a 1-D index into
    a 1-D array in its fast loop; module 11's scatter of whole rows takes a slower general path (three
    to five times slower for the GPT's 4,096 ids of width 128, on the machines measured). Extra
    memory: the N·D int64 positions.
    Repeats still add once per occurrence, in the same order, so the sums are module 11's exactly."""

    @staticmethod
    def backward(ctx, grad):
        #% solution name="AcceleratedEmbeddingBackward.backward" hint="V, D = the table's shape; flat = zeros (V·D,) in grad's dtype; positions = (ids.reshape(-1, 1) * D + np.arange(D)).reshape(-1); np.add.at(flat, positions, grad.reshape(-1)); return (flat reshaped (V, D),)."
        vocab, width = ctx.parents[0].shape
        flat_grad = np.zeros(vocab * width, dtype=grad.dtype)
        positions = (ctx.saved["ids"].reshape(-1, 1) * width + np.arange(width)).reshape(-1)
        np.add.at(flat_grad, positions, grad.reshape(-1))
        return (flat_grad.reshape(vocab, width),)
        #% endsolution


class AcceleratedEmbedding(AcceleratedLayer):
    """Module 11's Embedding (same table, same checks and gather) whose backward scatters into the
    flat table. Token ids (any shape) -> vectors (same shape + (D,))."""

    def __init__(self, embedding: Embedding):
        self.embedding = embedding

    def forward(self, tokens) -> Tensor:
        looked_up = self.embedding(tokens)  # module 11 checks the ids and gathers the rows
        ids = tokens.data if isinstance(tokens, Tensor) else np.asarray(tokens)
        return Tensor._make(looked_up.data, AcceleratedEmbeddingBackward, self.embedding.weight, ids=ids)

    def __repr__(self) -> str:
        return f"Accelerated{self.embedding!r}"


def accelerated_layer(layer, chunk: int = 4, workers: int = 1, threads=None):
    """The accelerated version of one layer, or None when there is none (the layer is kept)."""
    if isinstance(layer, Conv2d):
        return AcceleratedConv2d(layer, chunk=chunk, workers=workers, threads=threads)
    if isinstance(layer, BatchNorm2d):
        return AcceleratedBatchNorm2d(layer, workers=workers, threads=threads)
    if isinstance(layer, MaxPool2d) and layer.stride == layer.kernel_size:
        return AcceleratedMaxPool2d(layer, workers=workers, threads=threads)
    if isinstance(layer, MultiHeadAttention) and stackable(layer):
        return AcceleratedMultiHeadAttention(layer, workers=workers, threads=threads)
    if isinstance(layer, GELU):
        return AcceleratedGELU(workers=workers, threads=threads)
    if isinstance(layer, LayerNorm):
        return AcceleratedLayerNorm(layer, workers=workers, threads=threads)
    if isinstance(layer, Linear):
        return AcceleratedLinear(layer, workers=workers, threads=threads)
    if isinstance(layer, Embedding):
        return AcceleratedEmbedding(layer)
    return None


def accelerate(model, chunk: int = 4, workers: int = 1):
    """A new model computing what ``model`` computes on the accelerated path; ``model`` is unchanged.

    Conv2d, BatchNorm2d, MaxPool2d (stride == kernel), MultiHeadAttention, Linear, GELU, LayerNorm and
    Embedding become their ``Accelerated*`` versions; in a Sequential a BatchNorm2d followed by a ReLU becomes one fused
    layer. Other layers are rebuilt around their accelerated sub-layers (a shallow copy) or kept.
    Parameters are shared, so ``model.parameters()`` and the result's are the same tensors.
    Convolutions run in chunks of ``chunk`` images on ``workers`` threads, and BatchNorm and pooling
    split the batch over the same threads (set BLAS to one thread per worker, e.g. with
    threadpoolctl, when workers > 1). Call ``train()`` / ``eval()`` on the
    model you run.
    """
    if chunk < 1 or workers < 1:
        raise ValueError(f"chunk and workers must be positive integers, got chunk={chunk}, workers={workers}")
    threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tinytorch-accelerate") if workers > 1 else None
    return _accelerate(model, dict(chunk=chunk, workers=workers, threads=threads))


def _rewritable(value) -> bool:
    return isinstance(value, (Layer, GELU))


def _accelerate(model, options: dict):
    if isinstance(model, AcceleratedLayer) or not _rewritable(model):
        return model
    if isinstance(model, Sequential):
        return Sequential(*_accelerate_sequence(list(model.layers), options))
    replacement = accelerated_layer(model, **options)
    if replacement is not None:
        replacement.training = getattr(model, "training", True)
        return replacement
    clone = copy.copy(model)
    for name, value in vars(model).items():
        if _rewritable(value):
            setattr(clone, name, _accelerate(value, options))
        elif isinstance(value, list) and any(_rewritable(item) for item in value):
            setattr(clone, name, [_accelerate(item, options) for item in value])
    return clone


def _accelerate_sequence(layers: list, options: dict) -> list:
    """Accelerate each layer; fuse BatchNorm2d + ReLU pairs into one layer."""
    result = []
    i = 0
    while i < len(layers):
        layer = layers[i]
        if isinstance(layer, BatchNorm2d) and i + 1 < len(layers) and isinstance(layers[i + 1], ReLU):
            fused = AcceleratedBatchNorm2d(layer, relu=True, workers=options["workers"], threads=options["threads"])
            fused.training = layer.training
            result.append(fused)
            i += 2
            continue
        result.append(_accelerate(layer, options))
        i += 1
    return result
