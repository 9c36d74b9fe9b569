"""Module 14: profiling, measuring a model before trying to make it faster or smaller.

Three questions decide every optimisation that follows (quantization, pruning, caching,
faster kernels):

- **How big is it?** Parameters (what training updates) and bytes (what memory and disk
  hold: every array the model stores, trainable or not, at its real dtype).
- **How much work is it?** FLOPs per forward pass, counting one multiply-add as 2 FLOPs:
  a Linear layer costs 2·N·in·out, a convolution 2·N·H_out·W_out·C_out·C_in·k·k.
- **Where does the time go?** Latency is a distribution, not a number: report percentiles
  of many timed calls after a few warm-up calls (caches, allocator), and time each layer to
  find the bottleneck. An optimisation that does not touch the slowest layer cannot help much.

Systems point: FLOPs and bytes are computed from shapes alone (analytic, exact); time and
peak memory are measured (noisy, machine-dependent). A profile puts both side by side, so a
layer with few FLOPs but much time (memory-bound, or Python overhead) stands out.
"""

from __future__ import annotations

import dataclasses
import time
import tracemalloc
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from tinytorch.core.activations import Activation
from tinytorch.core.attention import MultiHeadAttention
from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Layer, Linear
from tinytorch.core.spatial import Conv2d, output_size
from tinytorch.core.tensor import Tensor

LAYER_TYPES = (Layer, Activation)
"""What a model is built from: Layers (with parameters) and parameter-free Activations."""


# ---------------------------------------------------------------------- size
def count_parameters(model) -> int:
    """Number of trainable elements (not tensors) of a layer or model.

    Example: Linear(3, 4) has 3·4 + 4 = 16 parameters.
    """
    #% solution hint="Sum .size over model.parameters() (each tensor is listed once)."
    return int(sum(parameter.size for parameter in model.parameters()))
    #% endsolution


def model_bytes(model) -> int:
    """Bytes of every array the model stores, each counted once at its real dtype.

    Walks attributes the way ``Layer.named_parameters`` does, but counts all storage:
    Tensor data (trainable or not), plain NumPy arrays and scalars (running statistics,
    int8 weights and their scales), sub-layers, lists, tuples, dicts and dataclass fields
    (a quantized weight). Gradients are not counted: they exist only while training.
    """
    #% solution name="model_bytes" hint="A recursive visit with a set of ids already seen: Tensor -> its data; ndarray/np.generic -> .nbytes; Layer, Activation and dataclass instances -> vars(); list/tuple/dict -> items."
    seen: set[int] = set()

    def visit(value) -> int:
        if id(value) in seen:
            return 0
        seen.add(id(value))
        if isinstance(value, Tensor):
            return visit(value.data)
        if isinstance(value, (np.ndarray, np.generic)):
            return int(value.nbytes)
        if isinstance(value, LAYER_TYPES) or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
            return sum(visit(item) for item in vars(value).values())
        if isinstance(value, dict):
            return sum(visit(item) for item in value.values())
        if isinstance(value, (list, tuple)):
            return sum(visit(item) for item in value)
        return 0

    return visit(model)
    #% endsolution


def named_children(layer) -> list[tuple[str, object]]:
    """Direct sub-layers with their attribute names ("fc1", "layers.0"), in attribute order."""
    found = []
    for attribute, value in vars(layer).items():
        items = enumerate(value) if isinstance(value, (list, tuple)) else [(None, value)]
        for index, item in items:
            if isinstance(item, LAYER_TYPES):
                found.append((attribute if index is None else f"{attribute}.{index}", item))
    return found


def named_layers(model, prefix: str = "") -> list[tuple[str, object]]:
    """(name, layer) for the model and every layer inside it, parents before children.

    Names follow attribute paths as in ``named_parameters`` ("layers.0", "blocks.1.attention.q_proj");
    the model itself is ``prefix`` ("" at the top). A layer reachable twice is listed once.
    """
    #% solution name="named_layers" hint="Depth-first: record (name, layer), then visit named_children(layer) with 'name.child' names; skip ids already seen."
    found: list[tuple[str, object]] = []
    seen: set[int] = set()

    def visit(name: str, layer) -> None:
        if id(layer) in seen:
            return
        seen.add(id(layer))
        found.append((name, layer))
        for child_name, child in named_children(layer):
            visit(f"{name}.{child_name}" if name else child_name, child)

    visit(prefix, model)
    return found
    #% endsolution


# ---------------------------------------------------------------------- work
def _linear_flops(layer: Linear, input_shape: tuple[int, ...]) -> int:
    if input_shape[-1] != layer.in_features:
        raise ValueError(f"Linear({layer.in_features}, {layer.out_features}) needs inputs (..., {layer.in_features}), "
                         f"got {input_shape}")
    rows = int(np.prod(input_shape[:-1], dtype=np.int64))
    return 2 * rows * layer.in_features * layer.out_features


def _conv2d_flops(layer: Conv2d, input_shape: tuple[int, ...]) -> int:
    if len(input_shape) != 4 or input_shape[1] != layer.in_channels:
        raise ValueError(f"Conv2d needs inputs (N, {layer.in_channels}, H, W), got {input_shape}")
    n, c_in, h, w = input_shape
    kh, kw = layer.kernel_size
    h_out = output_size(h, kh, layer.stride, layer.padding)
    w_out = output_size(w, kw, layer.stride, layer.padding)
    return 2 * n * h_out * w_out * layer.out_channels * c_in * kh * kw


def _attention_flops(layer: MultiHeadAttention, input_shape: tuple[int, ...]) -> int:
    if len(input_shape) != 3 or input_shape[-1] != layer.embed_dim:
        raise ValueError(f"MultiHeadAttention needs inputs (B, T, {layer.embed_dim}), got {input_shape}")
    batch, seq_len, dim = input_shape
    projections = 4 * 2 * batch * seq_len * dim * dim
    scores_and_mix = 2 * (2 * batch * seq_len * seq_len * dim)  # Q Kᵀ and weights @ V, all heads together
    return projections + scores_and_mix


FLOP_RULES: dict[type, Callable[..., int]] = {
    Linear: _linear_flops,
    Conv2d: _conv2d_flops,
    MultiHeadAttention: _attention_flops,
}
"""Layer type -> FLOPs of one forward pass given the input shape. Later modules may add rows."""


def layer_flops(layer, input_shape: tuple[int, ...]) -> int:
    """FLOPs of one forward pass of ``layer`` on an input of ``input_shape`` (a multiply-add is 2).

    Linear: 2·N·in·out (N = every leading axis). Conv2d: 2·N·H_out·W_out·C_out·C_in·kh·kw.
    MultiHeadAttention on (B, T, D): four projections 8·B·T·D² plus Q Kᵀ and weights·V, 4·B·T²·D.
    A layer type may also answer for itself with a ``flops(input_shape)`` method.
    Bias adds, activations and softmax are not counted (they are O(outputs), not O(weights)).

    >>> layer_flops(Linear(3, 4), (2, 3))
    48
    """
    input_shape = tuple(int(size) for size in input_shape)
    #% solution hint="Use a custom flops() method if the layer has one; else find the first FLOP_RULES type the layer is an instance of; else raise ValueError naming the layer type and the known ones."
    if callable(getattr(layer, "flops", None)):
        return int(layer.flops(input_shape))
    for kind, rule in FLOP_RULES.items():
        if isinstance(layer, kind):
            return int(rule(layer, input_shape))
    known = ", ".join(kind.__name__ for kind in FLOP_RULES)
    raise ValueError(f"no FLOP rule for {type(layer).__name__}; known layers: {known} "
                     "(or give the layer a flops(input_shape) method)")
    #% endsolution


# ---------------------------------------------------------------------- time
@dataclass(frozen=True)
class Latency:
    """Timed calls of one function, in milliseconds (warm-up calls excluded)."""

    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    samples: tuple[float, ...]
    """Every timed call, in call order."""

    @classmethod
    def from_samples(cls, samples_ms) -> Latency:
        """Summarise timings: the mean and the 50th, 90th and 99th percentiles (linear interpolation)."""
        #% solution hint="np.percentile(samples, [50, 90, 99]) interpolates linearly; keep the samples as a tuple of floats."
        samples = np.asarray(samples_ms, dtype=np.float64)
        p50, p90, p99 = np.percentile(samples, [50, 90, 99])
        return cls(mean_ms=float(samples.mean()), p50_ms=float(p50), p90_ms=float(p90), p99_ms=float(p99),
                   samples=tuple(float(s) for s in samples))
        #% endsolution

    def __str__(self) -> str:
        return (f"mean {self.mean_ms:.3f} ms, p50 {self.p50_ms:.3f} ms, p90 {self.p90_ms:.3f} ms, "
                f"p99 {self.p99_ms:.3f} ms over {len(self.samples)} calls")


def measure_latency(fn: Callable, *args, warmup: int = 3, repeats: int = 20) -> Latency:
    """Call ``fn(*args)`` warmup times untimed, then ``repeats`` times, each timed with time.perf_counter.

    Warm-up calls fill caches and let the allocator settle; they are never recorded.
    """
    #% solution hint="Refuse warmup < 0 or repeats < 1 (ValueError); run the warm-up calls first; then for each repeat read time.perf_counter() before and after one call and keep the difference in ms."
    if warmup < 0 or repeats < 1:
        raise ValueError(f"need warmup >= 0 and repeats >= 1, got warmup={warmup}, repeats={repeats}")
    for _ in range(warmup):
        fn(*args)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        samples.append((time.perf_counter() - start) * 1e3)
    return Latency.from_samples(samples)
    #% endsolution


# ---------------------------------------------------------------------- memory
def peak_memory(fn: Callable, *args) -> int:
    """Peak bytes allocated while ``fn(*args)`` runs, above what was allocated before, via tracemalloc.

    NumPy reports its array buffers to tracemalloc, so this sees the temporaries of a forward pass.
    Works whether or not tracemalloc was already running (and leaves it as it was).
    """
    #% solution hint="Start tracemalloc if it is not tracing; reset_peak(); baseline = get_traced_memory()[0]; call fn; peak = get_traced_memory()[1]; stop only if you started (in a finally)."
    started_here = not tracemalloc.is_tracing()
    if started_here:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        fn(*args)
        return max(0, tracemalloc.get_traced_memory()[1] - baseline)
    finally:
        if started_here:
            tracemalloc.stop()
    #% endsolution


# ---------------------------------------------------------------------- per-layer profile
@dataclass
class LayerProfile:
    """One row of a model profile: a profiled layer, summed over its calls in one forward pass."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    flops: int
    """0 when the layer has no FLOP rule (element-wise layers, normalisation, lookups)."""
    activation_bytes: int
    """Bytes of the outputs it produced (what a training pass keeps for backward)."""
    ms: float
    calls: int = 1


@dataclass
class ModelProfile:
    """Per-layer profile of one forward pass."""

    layers: list[LayerProfile]
    total_ms: float
    """Wall time of the whole forward pass (layer rows plus the glue between them)."""
    total_params: int

    @property
    def total_flops(self) -> int:
        return sum(row.flops for row in self.layers)

    @property
    def total_activation_bytes(self) -> int:
        return sum(row.activation_bytes for row in self.layers)

    def bottleneck(self) -> LayerProfile:
        """The row of the slowest layer."""
        #% solution hint="max over self.layers by ms; a profile without layers has no bottleneck (ValueError)."
        if not self.layers:
            raise ValueError("the profile has no layers, so no bottleneck")
        return max(self.layers, key=lambda row: row.ms)
        #% endsolution

    def table(self) -> str:
        """A plain-text table, slowest layer first, with each layer's share of the total time."""
        #% solution hint="Sort rows by ms, slowest first; one line per row with name, kind, shape, params, MFLOPs, KB, ms and 100·ms/total_ms; end with the time outside layers and a totals line."
        header = f"{'layer':<28} {'kind':<20} {'output':<18} {'params':>10} {'MFLOPs':>10} {'act KB':>9} {'ms':>9} {'time %':>7}"
        lines = [header, "-" * len(header)]
        total = self.total_ms if self.total_ms > 0 else 1.0
        for row in sorted(self.layers, key=lambda r: r.ms, reverse=True):
            lines.append(f"{row.name:<28} {row.kind:<20} {str(row.output_shape):<18} {row.params:>10,} "
                         f"{row.flops / 1e6:>10.3f} {row.activation_bytes / 1024:>9.1f} {row.ms:>9.3f} "
                         f"{100 * row.ms / total:>6.1f}%")
        outside = max(0.0, self.total_ms - sum(row.ms for row in self.layers))
        lines.append(f"{'(between layers)':<28} {'':<20} {'':<18} {'':>10} {'':>10} {'':>9} {outside:>9.3f} "
                     f"{100 * outside / total:>6.1f}%")
        lines.append("-" * len(header))
        lines.append(f"{'total':<28} {'':<20} {'':<18} {self.total_params:>10,} {self.total_flops / 1e6:>10.3f} "
                     f"{self.total_activation_bytes / 1024:>9.1f} {self.total_ms:>9.3f} {'100.0%':>7}")
        return "\n".join(lines)
        #% endsolution

    def __str__(self) -> str:
        return self.table()


def has_flop_rule(layer) -> bool:
    """Whether ``layer_flops`` knows this layer (a FLOP_RULES type or its own flops() method)."""
    return callable(getattr(layer, "flops", None)) or isinstance(layer, tuple(FLOP_RULES))


def profiled_layers(model) -> list[tuple[str, object]]:
    """The layers a profile times: layers with a FLOP rule, and layers without sub-layers.

    A layer with a FLOP rule (MultiHeadAttention) is timed whole, so the attention's own matmuls
    fall inside its row; other containers are looked into. Profiled layers never nest.
    """
    units: list[tuple[str, object]] = []
    seen: set[int] = set()

    def visit(name: str, layer) -> None:
        if id(layer) in seen:
            return
        seen.add(id(layer))
        children = named_children(layer)
        if has_flop_rule(layer) or not children:
            units.append((name or type(layer).__name__, layer))
            return
        for child_name, child in children:
            visit(f"{name}.{child_name}" if name else child_name, child)

    visit("", model)
    return units


@contextmanager
def intercept_forward(layers: list[tuple[str, object]],
                      on_call: Callable[[str, object, tuple, object, float], None]) -> Iterator[None]:
    """Temporarily wrap each layer's ``forward`` so every call reports to ``on_call``.

    ``on_call(name, layer, args, output, seconds)`` runs after each call. The wrappers are
    instance attributes (``Layer.__call__`` looks ``forward`` up on the instance first) and are
    removed on exit, even when the forward pass raises, so the model is left exactly as it was.
    """
    #% solution name="intercept_forward" hint="For each layer remember whether 'forward' was in vars(layer); set layer.forward to a wrapper that times the original bound forward with time.perf_counter and calls on_call; in a finally, restore the saved attribute or delattr the wrapper."
    saved = []
    for name, layer in layers:
        had_own = "forward" in vars(layer)
        original = layer.forward
        saved.insert(0, (layer, had_own, vars(layer).get("forward")))  # newest first: undone in reverse order

        def timed(*args, _name=name, _layer=layer, _original=original, **kwargs):
            start = time.perf_counter()
            output = _original(*args, **kwargs)
            on_call(_name, _layer, args, output, time.perf_counter() - start)
            return output

        layer.forward = timed
    try:
        yield
    finally:
        for layer, had_own, own in saved:
            if had_own:
                layer.forward = own
            else:
                vars(layer).pop("forward", None)
    #% endsolution


def _shape_of(value) -> tuple[int, ...]:
    if isinstance(value, Tensor):
        return value.shape
    return tuple(np.shape(value))


def _nbytes_of(value) -> int:
    if isinstance(value, Tensor):
        return int(value.data.nbytes)
    return int(np.asarray(value).nbytes)


def profile_model(model, x) -> ModelProfile:
    """Run ``model(x)`` once (no graph recorded) and time every profiled layer.

    Each row holds the layer's name and type, the shape of its output, its parameters, its
    FLOPs for the input it actually got (0 without a FLOP rule), the bytes of its outputs and
    its time. A layer called several times in one pass gets one row summed over its calls.
    """
    #% solution name="profile_model" hint="rows = {} keyed by name; inside intercept_forward(profiled_layers(model), record) run model(x) under no_grad, timing the whole call; record() creates or updates the row (flops from layer_flops on the first argument's shape when the layer is known)."
    units = profiled_layers(model)
    rows: dict[str, LayerProfile] = {}

    def record(name, layer, args, output, seconds) -> None:
        flops = layer_flops(layer, _shape_of(args[0])) if has_flop_rule(layer) and args else 0
        row = rows.get(name)
        if row is None:
            rows[name] = LayerProfile(name=name, kind=type(layer).__name__, output_shape=_shape_of(output),
                                      params=count_parameters(layer), flops=flops,
                                      activation_bytes=_nbytes_of(output), ms=seconds * 1e3)
        else:
            row.flops += flops
            row.activation_bytes += _nbytes_of(output)
            row.ms += seconds * 1e3
            row.calls += 1
            row.output_shape = _shape_of(output)

    with intercept_forward(units, record), no_grad():
        start = time.perf_counter()
        model(x)
        total_ms = (time.perf_counter() - start) * 1e3
    ordered = [rows[name] for name, _ in units if name in rows]
    return ModelProfile(layers=ordered, total_ms=total_ms, total_params=count_parameters(model))
    #% endsolution


# ---------------------------------------------------------------------- analytic memory
@dataclass(frozen=True)
class MemoryFootprint:
    """What one forward pass needs, from array sizes alone (no allocator noise)."""

    parameter_bytes: int
    activation_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.parameter_bytes + self.activation_bytes


def activation_bytes(model, x) -> int:
    """Bytes of every profiled layer's output in one forward pass on ``x``.

    That is what a training pass keeps alive for the backward pass; it grows with the batch,
    unlike the parameters.
    """
    return profile_model(model, x).total_activation_bytes


def memory_footprint(model, x) -> MemoryFootprint:
    """Parameter bytes (every stored array, ``model_bytes``) plus the activation bytes of a pass on ``x``."""
    return MemoryFootprint(parameter_bytes=model_bytes(model), activation_bytes=activation_bytes(model, x))
