"""Module 09: spatial layers for images: Conv2d, MaxPool2d, AvgPool2d, BatchNorm2d, Flatten.

Tensors are NCHW (batch, channels, height, width), as in PyTorch.

Convolution is done the way fast libraries do it on a CPU: **im2col** copies every
receptive field into one row of a matrix, so the whole convolution becomes a single
matrix multiplication handled by BLAS. For an (N, C, H, W) input and F filters of size
k x k the matrix is (N·H_out·W_out, C·k·k): k² times the input's memory, in exchange for
one GEMM of 2·N·H_out·W_out·C·k²·F FLOPs instead of seven nested Python loops.

The backward pass is two more GEMMs. The weight gradient is one; the input gradient of a
stride-1 convolution is itself a convolution (a *transposed convolution*: im2col of the
zero-bordered output gradient times the kernel turned 180 degrees, one more GEMM). Strided
convolutions use ``col2im``, the adjoint of im2col, which adds the column gradients back with
one shifted slice-add per kernel offset, never a loop over pixels.

Memory layout is part of the speed: Conv2d returns an NCHW *view* of channels-last
(N, H, W, C) memory, and BatchNorm2d, ReLU and MaxPool2d keep whatever layout they are
given (NumPy's element-wise ops and ``zeros_like`` follow their input's memory order), so the
next convolution's channels-last copy and its gradient's reshape are cheap or free. Everything
stays float32: a single float64 scalar in an expression would double the time. Each layer has
its own ``Function`` here (module 05's engine runs them).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinytorch.core.autograd import Function
from tinytorch.core.layers import Layer
from tinytorch.core.tensor import Tensor


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Spatial output size: floor((size + 2·padding - kernel) / stride) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


def pad_nhwc(x: np.ndarray, padding) -> np.ndarray:
    """NCHW array -> zero-padded array in channels-last memory order, shape (N, H + 2p, W + 2p, C).

    ``padding`` is one int or (rows, columns). One zero-filled allocation and one copy (no
    ``np.pad``). Channels-last keeps each pixel's C values adjacent, so the im2col copy and the
    col2im adds below move contiguous runs of memory; when x is already an NCHW view of
    channels-last memory (what Conv2d returns), the copy reads it in order.
    """
    n, c, h, w = x.shape
    ph, pw = _pair(padding)
    out = np.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=x.dtype)
    out[:, ph:ph + h, pw:pw + w, :] = x.transpose(0, 2, 3, 1)
    return out


def im2col(x: np.ndarray, kernel: tuple[int, int], stride: int, padding: int) -> np.ndarray:
    """Receptive fields as rows: (N, C, H, W) -> (N·H_out·W_out, kh·kw·C).

    Row order is (n, i, j), column order (di, dj, c), matching a weight laid out as
    (F, kh, kw, C). ``padding`` is one int or (rows, columns). The window view costs nothing;
    the reshape makes the one real copy.
    """
    #% solution hint="sliding_window_view(pad_nhwc(x), kernel, axis=(1, 2)) gives (N, H', W', C, kh, kw); take every stride-th window, put C last, reshape."
    kh, kw = kernel
    windows = sliding_window_view(pad_nhwc(x, padding), (kh, kw), axis=(1, 2))[:, ::stride, ::stride]
    n, h_out, w_out, c = windows.shape[:4]
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * h_out * w_out, kh * kw * c)
    #% endsolution


def col2im(cols: np.ndarray, x_shape: tuple, kernel: tuple[int, int], stride: int, padding: int) -> np.ndarray:
    """Adjoint of im2col: add each column gradient back where its pixel came from.

    cols: (N, H_out, W_out, kh, kw, C) -> (N, C, H, W). One strided slice-add per kernel
    offset (kh·kw of them), so overlapping windows accumulate correctly.
    """
    #% solution hint="Allocate the padded gradient channels-last; for each (di, dj) add cols[:, :, :, di, dj] into the slice starting at (di, dj) with step stride; crop the padding and return it as NCHW."
    n, c, h, w = x_shape
    kh, kw = kernel
    h_out, w_out = cols.shape[1], cols.shape[2]
    grad = np.zeros((n, h + 2 * padding, w + 2 * padding, c), dtype=cols.dtype)
    for di in range(kh):
        for dj in range(kw):
            grad[:, di:di + stride * h_out:stride, dj:dj + stride * w_out:stride] += cols[:, :, :, di, dj]
    return grad[:, padding:padding + h, padding:padding + w].transpose(0, 3, 1, 2)
    #% endsolution


def weight_matrix(weight: np.ndarray) -> np.ndarray:
    """(F, C, kh, kw) -> (F, kh·kw·C), the column order of im2col."""
    return weight.transpose(0, 2, 3, 1).reshape(weight.shape[0], -1)


def transposed_convolution(grad: np.ndarray, weight: np.ndarray, padding: int) -> np.ndarray:
    """Input gradient of a stride-1 convolution, computed as a convolution.

    grad (N, H_out, W_out, F) channels-last, weight (F, C, kh, kw) -> (N, C, H, W) with
    H = H_out + kh - 1 - 2p (an NCHW view of channels-last memory). Input pixel (y, x) was
    multiplied by W[:, :, di, dj] in the output at (y - di, x - dj) - with padding p that is
    output (y + p - di, x + p - dj) - so its gradient is a convolution of the output gradient,
    zero-bordered by k - 1 - p, with the kernel turned 180 degrees and its C and F axes
    swapped. That is im2col plus one GEMM, like the forward pass: no col2im adds. Needs
    p < k (a non-negative border).
    """
    #% solution kind="vectorized" hint="turned = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3), shape (C, F, kh, kw); cols = im2col of grad seen as NCHW (transpose(0, 3, 1, 2), a view) with stride 1 and padding (kh-1-p, kw-1-p); cols @ weight_matrix(turned).T is (N·H·W, C): reshape to (N, H, W, C) and transpose to NCHW."
    f, c, kh, kw = weight.shape
    n, h_out, w_out, _ = grad.shape
    turned = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    cols = im2col(grad.transpose(0, 3, 1, 2), (kh, kw), 1, (kh - 1 - padding, kw - 1 - padding))
    h, w = h_out + kh - 1 - 2 * padding, w_out + kw - 1 - 2 * padding
    return (cols @ weight_matrix(turned).T).reshape(n, h, w, c).transpose(0, 3, 1, 2)
    #% endsolution


class Conv2dBackward(Function):
    """Gradients of a convolution: two GEMMs (the input gradient by a transposed convolution,
    or col2im when the convolution is strided)."""

    @staticmethod
    def backward(ctx, grad):
        #% solution kind="vectorized" hint="g = grad as (N·Ho·Wo, F) (a free view when grad is channels-last memory); dW = g.T @ cols, reshaped (F, kh, kw, C) and moved to (F, C, kh, kw); db = g.sum(0); grad_x: None when x does not require grad, transposed_convolution for stride 1 and padding < kernel, else dcols = g @ weight_matrix(W) reshaped for col2im."
        x, weight = ctx.parents[0], ctx.parents[1]
        cols, stride, padding = ctx.saved["cols"], ctx.saved["stride"], ctx.saved["padding"]
        f, c, kh, kw = weight.shape
        n, _, h_out, w_out = grad.shape
        g = grad.transpose(0, 2, 3, 1).reshape(-1, f)
        grad_weight = (g.T @ cols).reshape(f, kh, kw, c).transpose(0, 3, 1, 2)
        if not x.requires_grad:  # the network's input: no gradient to compute
            grad_x = None
        elif stride == 1 and padding < min(kh, kw):
            grad_x = transposed_convolution(g.reshape(n, h_out, w_out, f), weight.data, padding)
        else:  # strided: a transposed convolution would multiply mostly zeros
            dcols = (g @ weight_matrix(weight.data)).reshape(n, h_out, w_out, kh, kw, c)
            grad_x = col2im(dcols, x.shape, (kh, kw), stride, padding)
        if len(ctx.parents) == 3:
            return grad_x, grad_weight, g.sum(axis=0)
        return grad_x, grad_weight
        #% endsolution


class Conv2d(Layer):
    """2-D convolution over NCHW images.

    Shapes: x (N, C_in, H, W) -> (N, C_out, H_out, W_out), H_out = (H + 2p - k) // s + 1.
    Weight (C_out, C_in, kh, kw) with He initialisation (suits ReLU); bias (C_out,).
    Parameters: C_out·C_in·kh·kw + C_out. FLOPs: 2·N·H_out·W_out·C_out·C_in·kh·kw.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride: int = 1, padding: int = 0,
                 bias: bool = True, rng: np.random.Generator | None = None):
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride, self.padding = stride, padding
        rng = rng if rng is not None else np.random.default_rng()
        #% solution hint="He init: std = sqrt(2 / fan_in) with fan_in = C_in·kh·kw; weight (C_out, C_in, kh, kw) float32 with requires_grad; bias zeros or None."
        fan_in = in_channels * self.kernel_size[0] * self.kernel_size[1]
        std = np.float32(np.sqrt(2.0 / fan_in))
        shape = (out_channels, in_channels, *self.kernel_size)
        self.weight = Tensor(rng.standard_normal(shape, dtype=np.float32) * std, requires_grad=True)
        self.bias = Tensor(np.zeros(out_channels, dtype=np.float32), requires_grad=True) if bias else None
        #% endsolution

    def forward(self, x: Tensor) -> Tensor:
        #% solution kind="vectorized" hint="Refuse input that is not (N, C_in, H, W) with a ValueError naming the shape; cols = im2col(...); out = cols @ weight_matrix(W).T (+ bias); reshape to (N, Ho, Wo, F) and transpose to NCHW (a view); save cols, stride, padding."
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2d expects input (N, {self.in_channels}, H, W), got {x.shape}")
        n, _, h, w = x.shape
        kh, kw = self.kernel_size
        h_out = output_size(h, kh, self.stride, self.padding)
        w_out = output_size(w, kw, self.stride, self.padding)
        cols = im2col(x.data, self.kernel_size, self.stride, self.padding)
        out = cols @ weight_matrix(self.weight.data).T
        if self.bias is not None:
            out += self.bias.data
        out = out.reshape(n, h_out, w_out, self.out_channels).transpose(0, 3, 1, 2)
        parents = (x, self.weight) if self.bias is None else (x, self.weight, self.bias)
        return Tensor._make(out, Conv2dBackward, *parents, cols=cols, stride=self.stride, padding=self.padding)
        #% endsolution

    def __repr__(self) -> str:
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None})")


def _pool_windows(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """(N, C, H, W) -> (N, C, H_out, W_out, k·k) windows (a copy only when windows overlap)."""
    windows = sliding_window_view(x, (kernel, kernel), axis=(2, 3))[:, :, ::stride, ::stride]
    return windows.reshape(*windows.shape[:4], kernel * kernel)


def _scatter_windows(window_grad: np.ndarray, x_shape: tuple, kernel: int, stride: int) -> np.ndarray:
    """Adjoint of _pool_windows: (N, C, H_out, W_out, k·k) -> (N, C, H, W), by shifted adds."""
    grad = np.zeros(x_shape, dtype=window_grad.dtype)
    h_out, w_out = window_grad.shape[2], window_grad.shape[3]
    for di in range(kernel):
        for dj in range(kernel):
            grad[:, :, di:di + stride * h_out:stride, dj:dj + stride * w_out:stride] += window_grad[..., di * kernel + dj]
    return grad


def window_offset(x: np.ndarray, di: int, dj: int, stride: int, out_hw: tuple[int, int]) -> np.ndarray:
    """(N, C, H, W) -> (N, C, H_out, W_out) view: element (i, j) is x[..., stride·i + di, stride·j + dj],
    the entry at offset (di, dj) of every pooling window. A strided slice: no copy."""
    h_out, w_out = out_hw
    return x[:, :, di:di + stride * h_out:stride, dj:dj + stride * w_out:stride]


class MaxPool2dBackward(Function):
    """Route each output's gradient to the first position (row-major in its window) that holds
    the maximum, the one ``argmax`` would pick: ties send the gradient to one pixel only."""

    @staticmethod
    def backward(ctx, grad):
        #% solution hint="grad_x = np.zeros_like(x.data) (keeps x's memory layout); unclaimed = np.ones_like(out, dtype=bool); for each offset (di, dj) in row-major order: hit = (window_offset(x) == out) & unclaimed; unclaimed &= ~hit; add grad * hit into the view window_offset(grad_x, ...) with += (overlapping windows share pixels)."
        x = ctx.parents[0]
        kernel, stride, out = ctx.saved["kernel"], ctx.saved["stride"], ctx.saved["out"]
        grad_x = np.zeros_like(x.data)
        unclaimed = np.ones_like(out, dtype=bool)  # same memory layout as out: fast element-wise ops
        for di, dj in np.ndindex(kernel, kernel):
            hit = window_offset(x.data, di, dj, stride, out.shape[2:]) == out
            hit &= unclaimed
            unclaimed &= ~hit
            window_grad = window_offset(grad_x, di, dj, stride, out.shape[2:])  # a view into grad_x
            window_grad += grad * hit
        return (grad_x,)
        #% endsolution


class MaxPool2d(Layer):
    """Maximum over k x k windows (stride defaults to k). (N, C, H, W) -> (N, C, H_out, W_out).

    k² element-wise maxima of strided views (one per window offset): no window copy, no argmax,
    and the output keeps x's memory layout (channels-last stays channels-last).
    """

    def __init__(self, kernel_size: int, stride: int | None = None):
        self.kernel_size = kernel_size
        self.stride = stride or kernel_size

    def forward(self, x: Tensor) -> Tensor:
        #% solution hint="out_hw from output_size(H or W, k, stride, 0); out = copy (order='K', keeping the layout) of window_offset(x, 0, 0); then np.maximum(out, window_offset(x, di, dj), out=out) for every other offset; save out, kernel, stride."
        k, stride = self.kernel_size, self.stride
        out_hw = (output_size(x.shape[2], k, stride, 0), output_size(x.shape[3], k, stride, 0))
        out = window_offset(x.data, 0, 0, stride, out_hw).copy(order="K")
        for di, dj in list(np.ndindex(k, k))[1:]:
            np.maximum(out, window_offset(x.data, di, dj, stride, out_hw), out=out)
        return Tensor._make(out, MaxPool2dBackward, x, out=out, kernel=k, stride=stride)
        #% endsolution

    def __repr__(self) -> str:
        return f"MaxPool2d(kernel_size={self.kernel_size}, stride={self.stride})"


class AvgPool2dBackward(Function):
    """Spread each output's gradient evenly over its window."""

    @staticmethod
    def backward(ctx, grad):
        #% solution
        x, kernel, stride = ctx.parents[0], ctx.saved["kernel"], ctx.saved["stride"]
        share = np.broadcast_to((grad / grad.dtype.type(kernel * kernel))[..., None], (*grad.shape, kernel * kernel))
        return (_scatter_windows(share, x.shape, kernel, stride),)
        #% endsolution


class AvgPool2d(Layer):
    """Mean over k x k windows (stride defaults to k). (N, C, H, W) -> (N, C, H_out, W_out)."""

    def __init__(self, kernel_size: int, stride: int | None = None):
        self.kernel_size = kernel_size
        self.stride = stride or kernel_size

    def forward(self, x: Tensor) -> Tensor:
        #% solution
        out = _pool_windows(x.data, self.kernel_size, self.stride).mean(axis=-1)
        return Tensor._make(out.astype(x.dtype, copy=False), AvgPool2dBackward, x,
                            kernel=self.kernel_size, stride=self.stride)
        #% endsolution

    def __repr__(self) -> str:
        return f"AvgPool2d(kernel_size={self.kernel_size}, stride={self.stride})"


class BatchNorm2dBackward(Function):
    """Exact gradient of batch normalisation through the batch mean and variance.

    With x̂ = (x - μ)·r, r = 1/sqrt(σ² + eps), M = N·H·W and the sums over N, H, W:
    dγ = Σ g·x̂,  dβ = Σ g,  dx = γ·r·(g - dβ/M - x̂·dγ/M).
    The two parameter gradients are the sums the input gradient needs, so the whole rule is two
    reductions and a few element-wise passes, written in place into one buffer. The sums are
    einsum contractions ("nchw,nchw->c"): Σ g·x̂ read straight from both arrays, with no g·x̂
    array written first, and each sum walks the channels-last memory in order.
    """

    @staticmethod
    def backward(ctx, grad):
        #% solution hint="Per-channel sums over n, h, w as einsum contractions, reshaped to (1, C, 1, 1): grad_gamma = np.einsum('nchw,nchw->c', grad, x_hat), grad_beta = np.einsum('nchw->c', grad). grad_x = grad - grad_beta / M, then -= x_hat * (grad_gamma / M), then *= gamma·inv_std (gamma reshaped to (1, C, 1, 1)); return the sums raveled to (C,)."
        x_hat, inv_std = ctx.saved["x_hat"], ctx.saved["inv_std"]
        gamma = ctx.parents[1].data.reshape(1, -1, 1, 1)
        per_channel = (1, -1, 1, 1)
        m = x_hat.size // x_hat.shape[1]
        grad_gamma = np.einsum("nchw,nchw->c", grad, x_hat).reshape(per_channel)
        grad_beta = np.einsum("nchw->c", grad).reshape(per_channel)
        grad_x = grad - grad_beta / m
        grad_x -= x_hat * (grad_gamma / m)
        grad_x *= gamma * inv_std
        return grad_x, grad_gamma.ravel(), grad_beta.ravel()
        #% endsolution


class BatchNorm2d(Layer):
    """Normalise each channel over (N, H, W), then scale by γ and shift by β.

    Training uses the batch's statistics and updates running estimates
    (running = (1 - momentum)·running + momentum·batch, with the unbiased variance, as PyTorch);
    evaluation uses the running estimates. Shapes: (N, C, H, W) -> same.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.gamma = Tensor(np.ones(num_features, dtype=np.float32), requires_grad=True)
        self.beta = Tensor(np.zeros(num_features, dtype=np.float32), requires_grad=True)
        self.running_mean = np.zeros(num_features, dtype=np.float32)
        self.running_var = np.ones(num_features, dtype=np.float32)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2d expects input (N, {self.num_features}, H, W), got {x.shape}")
        if not self.training:
            return self._normalise_with_running_stats(x)
        #% solution hint="Per-channel mean and biased variance over n, h, w as einsum sums divided by M (np.einsum('nchw->c', x) and np.einsum('nchw,nchw->c', centered, centered)), reshaped to (1, C, 1, 1); x_hat = (x - mean) * inv_std; update running stats (unbiased var: times M/(M-1)); out = gamma * x_hat + beta; save x_hat and inv_std."
        per_channel, m = (1, -1, 1, 1), x.size // self.num_features
        mean = (np.einsum("nchw->c", x.data) / m).reshape(per_channel)
        centered = x.data - mean
        var = (np.einsum("nchw,nchw->c", centered, centered) / m).reshape(per_channel)  # no squared array
        inv_std = 1 / np.sqrt(var + x.dtype.type(self.eps))
        x_hat = np.multiply(centered, inv_std, out=centered)  # in place: centered is not needed again
        self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * mean.ravel()
        unbiased = var.ravel() * (m / max(m - 1, 1))
        self.running_var = (1 - self.momentum) * self.running_var + self.momentum * unbiased
        out = x_hat * self.gamma.data.reshape(1, -1, 1, 1)
        out += self.beta.data.reshape(1, -1, 1, 1)
        return Tensor._make(out, BatchNorm2dBackward, x, self.gamma, self.beta, x_hat=x_hat, inv_std=inv_std)
        #% endsolution

    def _normalise_with_running_stats(self, x: Tensor) -> Tensor:
        """Evaluation: a fixed per-channel affine map, built from tracked ops."""
        #% solution hint="(x - running_mean) / sqrt(running_var + eps) * gamma + beta, with per-channel values reshaped to (1, C, 1, 1) and gamma, beta kept as tracked Tensors."
        shape = (1, -1, 1, 1)
        scale = Tensor((1 / np.sqrt(self.running_var + self.eps)).astype(x.dtype).reshape(shape))
        shift = Tensor(self.running_mean.astype(x.dtype).reshape(shape))
        return (x - shift) * scale * self.gamma.reshape(shape) + self.beta.reshape(shape)
        #% endsolution

    def __repr__(self) -> str:
        return f"BatchNorm2d({self.num_features}, eps={self.eps}, momentum={self.momentum})"


class Flatten(Layer):
    """(N, C, H, W) -> (N, C·H·W): a tracked reshape, so gradients flow back to the image."""

    def __init__(self, start_dim: int = 1):
        self.start_dim = start_dim

    def forward(self, x: Tensor) -> Tensor:
        #% solution hint="Tensor.flatten (module 01) is a tracked reshape."
        return x.flatten(self.start_dim)
        #% endsolution

    def __repr__(self) -> str:
        return f"Flatten(start_dim={self.start_dim})"
