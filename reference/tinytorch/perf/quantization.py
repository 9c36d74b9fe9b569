"""Module 15: quantization, storing weights as 8-bit integers instead of 32-bit floats.

Affine (asymmetric) quantization maps a float range [low, high] onto the 256 int8 values:

    q = clip(round(x / scale) + zero_point, -128, 127)        x ≈ (q - zero_point) · scale
    scale = (high - low) / 255,  zero_point = round(-128 - low / scale)

The range always includes 0, so real zero is exactly representable (zero padding and ReLU
outputs stay exact) and the zero point is itself an int8. **Symmetric** quantization fixes
zero_point = 0 and scale = max|x| / 127: weights are centred on zero, and a zero zero point
makes the integer matmul simpler. A scale **per output channel** follows each channel's own
range, so one channel with large weights does not wash out the others.

Systems point: int8 storage is 4x smaller than float32 (the scales add a few bytes per
channel), and an int8 x int8 product fits in 16 bits, so integer kernels accumulate in int32
and rescale once per output. Rounding error per element is at most scale / 2; what costs
accuracy is a scale made coarse by outliers, which is what per-channel scales and
calibrated activation ranges are for.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Layer, Linear
from tinytorch.core.spatial import BatchNorm2d, Conv2d, im2col, output_size, weight_matrix
from tinytorch.core.tensor import Tensor
from tinytorch.perf.profiling import intercept_forward, named_layers

INT8_MIN, INT8_MAX = -128, 127
QUANTIZABLE = (Linear, Conv2d)
"""Layer types that quantize_model replaces."""


@dataclass
class QuantizedTensor:
    """An int8 array with the scale and zero point that map it back to floats.

    ``scale`` (float32) and ``zero_point`` (int8) are arrays that broadcast against ``q``:
    shape () per tensor; per channel, the size of ``axis`` there and 1 elsewhere (a symmetric
    tensor keeps a single zero point of shape (), whatever the axis).
    """

    q: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.q.shape

    @property
    def nbytes(self) -> int:
        """Bytes actually stored: the int8 values plus the scales and zero points."""
        return int(self.q.nbytes + np.asarray(self.scale).nbytes + np.asarray(self.zero_point).nbytes)

    def dequantize(self) -> np.ndarray:
        """(q - zero_point) · scale as float32, same shape as q."""
        #% solution hint="Subtract in int32 (an int8 difference overflows), multiply by the scale, return float32."
        centered = self.q.astype(np.int32) - np.asarray(self.zero_point, dtype=np.int32)
        return (centered * self.scale).astype(np.float32)
        #% endsolution

    def __repr__(self) -> str:
        where = "per tensor" if self.axis is None else f"per channel (axis {self.axis})"
        return f"QuantizedTensor(shape={self.shape}, {where}, {self.nbytes} bytes)"


# ---------------------------------------------------------------------- the arithmetic
def quantization_params(low, high, symmetric: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Scale (float32) and zero point (int8) that map the range [low, high] onto int8.

    The range is first widened to include 0. Symmetric: scale = max(|low|, |high|) / 127 and a
    zero point of 0. Asymmetric: scale = (high - low) / 255, zero point = round(-128 - low / scale),
    clipped to the int8 range. An empty range (all zeros) gets scale 1, never a division by zero.
    Arrays of lows and highs give one scale and zero point per element (per channel).
    """
    #% solution hint="low = min(low, 0), high = max(high, 0); compute the scale, replace scale 0 by 1; the asymmetric zero point is np.rint(-128 - low / scale) clipped to [-128, 127] and cast to int8."
    low = np.minimum(np.asarray(low, dtype=np.float32), 0)
    high = np.maximum(np.asarray(high, dtype=np.float32), 0)
    if symmetric:
        scale = np.maximum(-low, high) / np.float32(INT8_MAX)
    else:
        scale = (high - low) / np.float32(INT8_MAX - INT8_MIN)
    scale = np.where(scale > 0, scale, 1).astype(np.float32)
    if symmetric:
        return scale, np.zeros((), dtype=np.int8)
    zero_point = np.clip(np.rint(INT8_MIN - low / scale), INT8_MIN, INT8_MAX).astype(np.int8)
    return scale, zero_point
    #% endsolution


def quantize_values(x: np.ndarray, scale, zero_point) -> np.ndarray:
    """round(x / scale) + zero_point, clipped to [-128, 127], as int8 (values outside the range saturate)."""
    #% solution kind="integer" hint="np.rint rounds half to even like integer hardware; clip before casting, or large values wrap around."
    return np.clip(np.rint(x / scale) + zero_point, INT8_MIN, INT8_MAX).astype(np.int8)
    #% endsolution


def quantize(x: np.ndarray, axis: int | None = None, symmetric: bool = True) -> QuantizedTensor:
    """Quantize a float array to int8, per tensor (axis None) or with one scale per index of ``axis``.

    Shapes: x (...) float -> q (...) int8; per channel the scale has x's shape with every axis
    but ``axis`` set to 1. Symmetric (zero point 0) suits weights; asymmetric suits activations
    whose range is not centred on zero (after a ReLU, all of it is >= 0). An empty x has the
    range [0, 0] (scale 1).

    >>> quantize(np.array([-1.0, 0.0, 0.5, 1.0])).q.tolist()
    [-127, 0, 64, 127]
    """
    x = np.asarray(x, dtype=np.float32)
    #% solution hint="Refuse an axis outside the array (ValueError naming it and the shape). Per tensor: the min and max of x; per channel: min and max over every other axis with keepdims. Then quantization_params(low, high) and quantize_values."
    if axis is not None and not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis {axis} is out of range for an array of shape {x.shape}")
    if axis is None:
        low, high = (x.min(), x.max()) if x.size else (0.0, 0.0)
    else:
        axis %= x.ndim
        reduce_axes = tuple(i for i in range(x.ndim) if i != axis)
        low, high = x.min(axis=reduce_axes, keepdims=True), x.max(axis=reduce_axes, keepdims=True)
    scale, zero_point = quantization_params(low, high, symmetric)
    return QuantizedTensor(quantize_values(x, scale, zero_point), scale, zero_point, axis)
    #% endsolution


def integer_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact integer product a @ b of small integers (int8/int16 values), as int32 accumulators.

    NumPy has no BLAS path for integer matmul (a plain loop, several times slower), so the
    products are summed in float64 BLAS instead: every int8 x int16 product and every sum of
    fewer than 2^37 of them is an exactly representable float64 integer, so the result is the
    same int32 accumulation an int8 kernel does. Shapes as np.matmul: (..., K) @ (K, M) -> (..., M).
    """
    #% solution kind="integer" hint="Cast both operands to float64, matmul, then np.rint and cast to int32."
    return np.rint(a.astype(np.float64) @ b.astype(np.float64)).astype(np.int32)
    #% endsolution


# ---------------------------------------------------------------------- activation ranges
@dataclass
class ActivationRange:
    """The smallest and largest value seen at a layer's input over calibration batches."""

    low: float = float("inf")
    high: float = float("-inf")

    def observe(self, x: np.ndarray) -> None:
        """Widen the range to include every value of x."""
        #% solution hint="An empty array changes nothing; else keep the smaller of self.low and x's minimum, the larger of self.high and x's maximum (as floats)."
        if np.size(x) == 0:
            return
        self.low = min(self.low, float(np.min(x)))
        self.high = max(self.high, float(np.max(x)))
        #% endsolution

    def params(self) -> tuple[np.ndarray, np.ndarray]:
        """Asymmetric int8 scale and zero point for this range."""
        if self.low > self.high:
            raise ValueError("this range has observed no values; calibrate with at least one batch")
        return quantization_params(self.low, self.high, symmetric=False)


def calibrate(model, batches) -> dict[str, ActivationRange]:
    """Run the model on calibration batches and record the input range of every Linear and Conv2d.

    Each batch is what you would pass to ``model(...)``. Returns {layer name: ActivationRange},
    names as ``named_layers`` gives them (the model itself is ""). The passes run in eval mode
    (dropout off, running statistics), record no graph, and leave the model as it was.
    """
    #% solution name="calibrate" hint="ranges = {name: ActivationRange()} for every QUANTIZABLE layer of named_layers(model); in eval mode (restore the mode after), inside intercept_forward(those layers, observer) and no_grad(), call the model on each batch; the observer updates the range of its layer with its first argument's data."
    targets = [(name, layer) for name, layer in named_layers(model) if isinstance(layer, QUANTIZABLE)]
    ranges = {name: ActivationRange() for name, _ in targets}

    def observe(name, layer, args, output, seconds) -> None:
        first = args[0]
        ranges[name].observe(first.data if isinstance(first, Tensor) else np.asarray(first))

    was_training = model.training
    model.eval()
    try:
        with intercept_forward(targets, observe), no_grad():
            for batch in batches:
                model(batch)
    finally:
        model.train(was_training)
    return {name: found for name, found in ranges.items() if found.low <= found.high}
    #% endsolution


# ---------------------------------------------------------------------- quantized layers
class QuantizedLayer(Layer):
    """Shared input handling: int8 inputs from a calibrated range (static) or from each batch (dynamic)."""

    input_scale: np.ndarray | None = None
    input_zero_point: np.ndarray | None = None

    def set_input_range(self, input_range: ActivationRange | None) -> None:
        if input_range is None:
            self.input_scale = self.input_zero_point = None
        else:
            self.input_scale, self.input_zero_point = input_range.params()

    def centered_input(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Quantize an input (asymmetric, per tensor) -> (q - zero_point as int16, its scale).

        Static when calibrated (values outside the observed range saturate), else dynamic
        (this batch's own min and max).
        """
        #% solution kind="integer" hint="Without a calibrated scale, take quantization_params(data.min(), data.max(), symmetric=False); quantize_values, then subtract the zero point in int16 so real 0 becomes integer 0."
        if self.input_scale is None:
            scale, zero_point = quantization_params(data.min(), data.max(), symmetric=False)
        else:
            scale, zero_point = self.input_scale, self.input_zero_point
        q = quantize_values(data, scale, zero_point)
        return q.astype(np.int16) - np.int16(zero_point), scale
        #% endsolution


class QuantizedLinear(QuantizedLayer):
    """A Linear layer with int8 weights: y = (x_q · W_q) · (s_x · s_w) + b.

    Stores only the int8 weight (in_features, out_features), one float32 scale per output
    column (symmetric: zero point 0) and the float32 bias; no float copy of the weight.
    Forward: the input is quantized to int8, the int8 x int8 products are accumulated exactly
    (``integer_matmul``: int32 values) and rescaled once per output, as an int8 kernel does.
    The output is a float32 Tensor that records no graph (quantized layers are for inference).
    """

    def __init__(self, weight: QuantizedTensor, bias: np.ndarray | None = None,
                 input_range: ActivationRange | None = None):
        self.weight, self.bias = weight, bias
        self.in_features, self.out_features = weight.shape
        self.set_input_range(input_range)

    @classmethod
    def from_float(cls, linear: Linear, input_range: ActivationRange | None = None,
                   per_channel: bool = True) -> QuantizedLinear:
        """Quantize a trained Linear: symmetric int8 weights, per output column (axis 1) or per tensor."""
        #% solution hint="quantize(linear.weight.data, axis=1 if per_channel else None, symmetric=True); copy the bias as float32 (or None)."
        weight = quantize(linear.weight.data, axis=1 if per_channel else None, symmetric=True)
        bias = None if linear.bias is None else linear.bias.data.astype(np.float32).copy()
        return cls(weight, bias, input_range)
        #% endsolution

    def forward(self, x) -> Tensor:
        """x (..., in_features) -> (..., out_features) float32."""
        data = x.data if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)
        #% solution hint="Refuse inputs whose last axis is not in_features (ValueError). centered, input_scale = self.centered_input(data); acc = integer_matmul(centered, self.weight.q); out = acc · (input_scale · weight scale) (+ bias) as float32."
        if data.shape[-1] != self.in_features:
            raise ValueError(f"QuantizedLinear expects inputs (..., {self.in_features}), got {data.shape}")
        centered, input_scale = self.centered_input(data)
        accumulators = integer_matmul(centered, self.weight.q)
        out = accumulators * (input_scale * self.weight.scale.reshape(-1))
        if self.bias is not None:
            out = out + self.bias
        return Tensor(out.astype(np.float32))
        #% endsolution

    def __repr__(self) -> str:
        return f"QuantizedLinear(in_features={self.in_features}, out_features={self.out_features}, {self.weight!r})"


class QuantizedConv2d(QuantizedLayer):
    """A Conv2d with int8 weights (C_out, C_in, kh, kw), one scale per output channel, float32 bias.

    Forward as Conv2d (im2col + one GEMM) on integers: the centred int8 input is unfolded
    (zero padding is exact, since real 0 is integer 0 after centring), multiplied exactly with
    the int8 weight matrix, and each output channel rescaled by s_x · s_w[c].
    """

    def __init__(self, weight: QuantizedTensor, bias: np.ndarray | None = None, stride: int = 1, padding: int = 0,
                 input_range: ActivationRange | None = None):
        self.weight, self.bias = weight, bias
        self.out_channels, self.in_channels = weight.shape[:2]
        self.kernel_size = tuple(weight.shape[2:])
        self.stride, self.padding = stride, padding
        self.set_input_range(input_range)

    @classmethod
    def from_float(cls, conv: Conv2d, input_range: ActivationRange | None = None,
                   per_channel: bool = True) -> QuantizedConv2d:
        """Quantize a trained Conv2d: symmetric int8 weights, per output channel (axis 0) or per tensor."""
        #% solution hint="quantize(conv.weight.data, axis=0 if per_channel else None); keep stride, padding and a float32 copy of the bias."
        weight = quantize(conv.weight.data, axis=0 if per_channel else None, symmetric=True)
        bias = None if conv.bias is None else conv.bias.data.astype(np.float32).copy()
        return cls(weight, bias, conv.stride, conv.padding, input_range)
        #% endsolution

    def forward(self, x) -> Tensor:
        """x (N, C_in, H, W) -> (N, C_out, H_out, W_out) float32."""
        data = x.data if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)
        #% solution hint="Refuse input that is not (N, C_in, H, W) (ValueError). centered input -> im2col -> integer_matmul with weight_matrix(self.weight.q).T -> rescale each column by input_scale · its channel scale, add the bias -> reshape (N, Ho, Wo, F) and transpose to NCHW."
        if data.ndim != 4 or data.shape[1] != self.in_channels:
            raise ValueError(f"QuantizedConv2d expects input (N, {self.in_channels}, H, W), got {data.shape}")
        n, _, h, w = data.shape
        kh, kw = self.kernel_size
        h_out = output_size(h, kh, self.stride, self.padding)
        w_out = output_size(w, kw, self.stride, self.padding)
        centered, input_scale = self.centered_input(data)
        cols = im2col(centered, self.kernel_size, self.stride, self.padding)
        accumulators = integer_matmul(cols, weight_matrix(self.weight.q).T)
        out = accumulators * (input_scale * self.weight.scale.reshape(1, -1))
        if self.bias is not None:
            out = out + self.bias
        out = out.reshape(n, h_out, w_out, self.out_channels).transpose(0, 3, 1, 2)
        return Tensor(np.ascontiguousarray(out, dtype=np.float32))
        #% endsolution

    def __repr__(self) -> str:
        return (f"QuantizedConv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, {self.weight!r})")


# ---------------------------------------------------------------------- whole models
def quantize_layer(layer, input_range: ActivationRange | None = None, per_channel: bool = True):
    """The quantized twin of a Linear or Conv2d; any other layer is returned as it is."""
    if isinstance(layer, Linear):
        return QuantizedLinear.from_float(layer, input_range, per_channel)
    if isinstance(layer, Conv2d):
        return QuantizedConv2d.from_float(layer, input_range, per_channel)
    return layer


def fold_batchnorm(model):
    """Fold every BatchNorm2d that directly follows a Conv2d in a list of layers into that convolution, in place.

    In evaluation BatchNorm2d is a fixed per-channel affine map, γ·(x - μ)/σ + β with
    σ = sqrt(running_var + eps), so conv-then-norm is one convolution with W' = W·γ/σ (per
    output channel) and b' = (b - μ)·γ/σ + β; the norm layer is removed from the list. Folding
    before quantizing saves its arrays and lets the weight scales see the real (scaled) weights.
    The folded model computes what the original computes in eval mode. Returns the model.
    """
    #% solution hint="For each layer of named_layers(model) and each list attribute: walk it; when a Conv2d is followed by a BatchNorm2d, rescale the conv's weight and bias (a new bias when it had none) and drop the norm from the rebuilt list."
    for _, layer in named_layers(model):
        for attribute, value in list(vars(layer).items()):
            if not isinstance(value, list):
                continue
            folded = []
            for item in value:
                if isinstance(item, BatchNorm2d) and folded and isinstance(folded[-1], Conv2d):
                    _fold_into(folded[-1], item)
                else:
                    folded.append(item)
            setattr(layer, attribute, folded)
    return model
    #% endsolution


def _fold_into(conv: Conv2d, norm: BatchNorm2d) -> None:
    factor = norm.gamma.data / np.sqrt(norm.running_var + norm.eps)
    bias = conv.bias.data if conv.bias is not None else np.zeros(conv.out_channels, dtype=np.float32)
    conv.weight = Tensor((conv.weight.data * factor.reshape(-1, 1, 1, 1)).astype(np.float32), requires_grad=True)
    conv.bias = Tensor(((bias - norm.running_mean) * factor + norm.beta.data).astype(np.float32), requires_grad=True)


def quantize_model(model, calibration_batches=None, per_channel: bool = True):
    """A copy of ``model``, in eval mode, with every Linear and Conv2d replaced by its int8 twin; the original is untouched.

    With ``calibration_batches`` (an iterable of inputs) each layer quantizes its input with the
    range observed there (static quantization); without, from each batch's own range (dynamic).
    Layers are found through attributes and lists at any depth, as ``Layer.children`` does.
    BatchNorm2d layers right after a Conv2d are folded into it first (``fold_batchnorm``), so
    the quantized model matches the original in eval mode.
    """
    #% solution hint="copy.deepcopy the model and fold_batchnorm it; calibrate the copy if batches are given; for every (name, layer) of named_layers(copy) replace QUANTIZABLE attributes and list items by quantize_layer(child, ranges.get(child_name), per_channel); a model that is itself a Linear/Conv2d is replaced whole."
    quantized = fold_batchnorm(copy.deepcopy(model))
    ranges = calibrate(quantized, calibration_batches) if calibration_batches is not None else {}
    if isinstance(quantized, QUANTIZABLE):
        return quantize_layer(quantized, ranges.get(""), per_channel).eval()
    for name, layer in named_layers(quantized):
        prefix = f"{name}." if name else ""
        for attribute, value in list(vars(layer).items()):
            if isinstance(value, QUANTIZABLE):
                setattr(layer, attribute, quantize_layer(value, ranges.get(prefix + attribute), per_channel))
            elif isinstance(value, (list, tuple)):
                items = [quantize_layer(item, ranges.get(f"{prefix}{attribute}.{i}"), per_channel)
                         for i, item in enumerate(value)]
                setattr(layer, attribute, type(value)(items) if isinstance(value, tuple) else items)
    return quantized.eval()
    #% endsolution
