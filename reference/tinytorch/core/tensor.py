"""Module 01: the Tensor, an n-dimensional array that remembers how it was made.

A ``Tensor`` wraps a NumPy array (``.data``) and adds what a deep-learning framework
needs on top: arithmetic that broadcasts like NumPy, matrix multiplication, shape
changes, reductions and, from module 05 on, gradients.

Every operation computes its result with one vectorised NumPy call and returns it
through ``Tensor._make``. That helper is the seam between this module and autograd:
it records which rule will differentiate the result and which tensors it came
from, but only when a gradient will ever be needed. Module 05 supplies the rules.

Systems point: a float32 tensor of shape (N, D) costs 4·N·D bytes. Broadcasting
(``x + b`` with ``b`` of shape (D,)) never copies ``b`` N times; reshaping a
contiguous tensor is free (a view), transposing is free until someone needs a
contiguous copy.
"""

from __future__ import annotations

import numpy as np

# Grad mode lives here so that modules 01-04 can read it without importing module 05;
# tinytorch.core.autograd.no_grad() switches it.
_GRAD_ENABLED = True


def is_grad_enabled() -> bool:
    """True unless inside ``tinytorch.core.autograd.no_grad()``."""
    return _GRAD_ENABLED


def set_grad_enabled(enabled: bool) -> bool:
    """Switch graph recording on or off; returns the previous setting."""
    global _GRAD_ENABLED
    previous, _GRAD_ENABLED = _GRAD_ENABLED, bool(enabled)
    return previous


class Context:
    """What a tracked op leaves behind for its backward rule.

    ``fn`` is the rule: the name of a ``Function`` in ``tinytorch.core.autograd`` for the
    ops of modules 01-04 (their gradients are written in module 05), or the ``Function``
    class itself for later modules. ``parents`` are the input tensors, in order;
    ``saved`` holds arrays or values the rule needs (a mask, an axis, a shape).
    """

    __slots__ = ("fn", "parents", "saved")

    def __init__(self, fn, parents: tuple[Tensor, ...], saved: dict):
        self.fn = fn
        self.parents = parents
        self.saved = saved

    @property
    def name(self) -> str:
        return self.fn if isinstance(self.fn, str) else self.fn.__name__

    def __repr__(self) -> str:
        return f"<{self.name}>"


class Tensor:
    """An n-dimensional array with NumPy semantics and optional gradient tracking.

    Args:
        data: a Python scalar, a (nested) list, a NumPy array or another Tensor.
        requires_grad: whether gradients should flow into this tensor (module 05).
        dtype: force a NumPy dtype; by default floats become float32, ints int64,
            and NumPy arrays keep their dtype (float64 is kept for gradient checks).

    Example:
        >>> Tensor([[1, 2], [3, 4]]).shape
        (2, 2)
        >>> (Tensor([1.0, 2.0]) * 3).tolist()
        [3.0, 6.0]
    """

    __array_priority__ = 100  # so ndarray + Tensor defers to Tensor.__radd__

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        self.data = _as_array(data, dtype)
        self.requires_grad = bool(requires_grad)
        self.grad: Tensor | None = None
        self._ctx: Context | None = None

    # ------------------------------------------------------------------ plumbing
    @staticmethod
    def _make(data: np.ndarray, fn, *parents: Tensor, **saved) -> Tensor:
        """Wrap an op's result; record the graph node if a gradient can flow.

        Recording is plain data (no import of module 05), so this costs nothing when
        no parent requires a gradient or inside ``no_grad()``.
        """
        out = Tensor(data)
        if _GRAD_ENABLED and any(p.requires_grad for p in parents):
            out.requires_grad = True
            out._ctx = Context(fn, parents, saved)
        return out

    @staticmethod
    def _lift(value) -> Tensor:
        """Turn a scalar or array operand into a Tensor (Tensors pass through)."""
        return value if isinstance(value, Tensor) else Tensor(value)

    def _scalar_operand(self, value) -> Tensor:
        """Lift a Python scalar in this tensor's float dtype, so float32 stays float32."""
        if isinstance(value, Tensor):
            return value
        if np.isscalar(value) and self.data.dtype.kind == "f":
            return Tensor(np.asarray(value, dtype=self.data.dtype))
        return Tensor(value)

    # ------------------------------------------------------------------ basics
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def grad_fn(self) -> Context | None:
        """The node that made this tensor (None for leaves), as in PyTorch."""
        return self._ctx

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", threshold=20)
        extra = f", grad_fn={self._ctx}" if self._ctx else (", requires_grad=True" if self.requires_grad else "")
        return f"Tensor({body}, shape={self.shape}, dtype={self.dtype}{extra})"

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def tolist(self):
        return self.data.tolist()

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def detach(self) -> Tensor:
        """The same data, cut from the graph (no copy)."""
        return Tensor(self.data)

    def astype(self, dtype) -> Tensor:
        """A copy in another dtype (not tracked: casting has no gradient)."""
        return Tensor(self.data.astype(dtype))

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other) -> Tensor:
        other = self._scalar_operand(other)
        #% solution hint="NumPy broadcasts for you: add the two .data arrays."
        return Tensor._make(self.data + other.data, "AddBackward", self, other)
        #% endsolution

    def __sub__(self, other) -> Tensor:
        other = self._scalar_operand(other)
        #% solution
        return Tensor._make(self.data - other.data, "SubBackward", self, other)
        #% endsolution

    def __mul__(self, other) -> Tensor:
        other = self._scalar_operand(other)
        #% solution
        return Tensor._make(self.data * other.data, "MulBackward", self, other)
        #% endsolution

    def __truediv__(self, other) -> Tensor:
        other = self._scalar_operand(other)
        #% solution hint="Integer tensors divide to floats, as in PyTorch: keep NumPy's true division."
        return Tensor._make(self.data / other.data, "DivBackward", self, other)
        #% endsolution

    def __neg__(self) -> Tensor:
        #% solution
        return Tensor._make(-self.data, "NegBackward", self)
        #% endsolution

    def __pow__(self, exponent: float) -> Tensor:
        """x ** p for a constant exponent p (a Python number)."""
        if isinstance(exponent, Tensor):
            raise TypeError("Tensor ** Tensor is not supported: the exponent must be a Python number")
        #% solution hint="Save the exponent for the backward rule: exponent=exponent."
        return Tensor._make(self.data ** exponent, "PowBackward", self, exponent=exponent)
        #% endsolution

    # Reflected operands: 2 - x calls x.__rsub__(2). Each is one line in terms of the above.
    def __radd__(self, other) -> Tensor:
        return self + other  # other + self

    def __rmul__(self, other) -> Tensor:
        return self * other  # other * self

    def __rsub__(self, other) -> Tensor:
        return self._scalar_operand(other) - self  # other - self

    def __rtruediv__(self, other) -> Tensor:
        return self._scalar_operand(other) / self  # other / self

    # ------------------------------------------------------------------ element-wise math
    def exp(self) -> Tensor:
        #% solution
        out = np.exp(self.data)
        return Tensor._make(out, "ExpBackward", self, out=out)
        #% endsolution

    def log(self) -> Tensor:
        """Natural logarithm; log(0) is -inf, as in NumPy."""
        #% solution
        return Tensor._make(np.log(self.data), "LogBackward", self)
        #% endsolution

    def sqrt(self) -> Tensor:
        #% solution
        out = np.sqrt(self.data)
        return Tensor._make(out, "SqrtBackward", self, out=out)
        #% endsolution

    def abs(self) -> Tensor:
        return Tensor._make(np.abs(self.data), "AbsBackward", self)

    # ------------------------------------------------------------------ matmul
    def matmul(self, other) -> Tensor:
        """Matrix product with NumPy's batching rules.

        Shapes: (n, k) @ (k, m) -> (n, m); leading batch dimensions broadcast,
        (B, n, k) @ (k, m) -> (B, n, m). Cost: 2·n·k·m FLOPs per matrix, done by BLAS.

        Raises:
            ValueError: when the inner dimensions differ, naming both shapes.
        """
        other = self._lift(other)
        #% solution hint="Check self.shape[-1] against other.shape[-2] (or other.shape[0] for a vector) first."
        if self.ndim == 0 or other.ndim == 0:
            raise ValueError(f"matmul needs tensors with at least one dimension, got shapes {self.shape} and {other.shape}")
        inner_other = other.shape[0] if other.ndim == 1 else other.shape[-2]
        if self.shape[-1] != inner_other:
            raise ValueError(
                f"matmul shape mismatch: {self.shape} @ {other.shape}; the last dimension of the "
                f"left ({self.shape[-1]}) must equal the {'first' if other.ndim == 1 else 'second-to-last'} "
                f"dimension of the right ({inner_other})"
            )
        return Tensor._make(np.matmul(self.data, other.data), "MatmulBackward", self, other)
        #% endsolution

    def __matmul__(self, other) -> Tensor:
        return self.matmul(other)

    def __rmatmul__(self, other) -> Tensor:
        return self._lift(other).matmul(self)

    # ------------------------------------------------------------------ shape
    def reshape(self, *shape) -> Tensor:
        """The same elements in a new shape; one dimension may be -1.

        Accepts ``reshape(2, 3)`` or ``reshape((2, 3))``. Free for contiguous data.
        """
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        #% solution hint="np.reshape raises for impossible shapes; re-raise as ValueError naming both shapes."
        try:
            out = self.data.reshape(shape)
        except ValueError:
            raise ValueError(f"cannot reshape a tensor of shape {self.shape} ({self.size} elements) into {shape}") from None
        return Tensor._make(out, "ReshapeBackward", self)
        #% endsolution

    def view(self, *shape) -> Tensor:
        return self.reshape(*shape)

    def flatten(self, start_dim: int = 0) -> Tensor:
        """Merge the dimensions from ``start_dim`` on: (N, C, H, W) -> (N, C·H·W) with start_dim=1."""
        start = start_dim % max(self.ndim, 1)
        return self.reshape(*self.shape[:start], -1)

    def transpose(self, dim0: int | None = None, dim1: int | None = None) -> Tensor:
        """Swap two dimensions (the last two by default). A view: no data moves."""
        if self.ndim < 2 and dim0 is None:
            return self.reshape(self.shape)
        #% solution hint="Build the axes order with the two dimensions swapped and use np.transpose."
        dim0 = -2 if dim0 is None else dim0
        dim1 = -1 if dim1 is None else dim1
        axes = list(range(self.ndim))
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
        return self.permute(*axes)
        #% endsolution

    def permute(self, *axes) -> Tensor:
        """Reorder all dimensions: (N, H, W, C).permute(0, 3, 1, 2) -> (N, C, H, W)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        #% solution
        axes = tuple(a % self.ndim for a in axes)
        if sorted(axes) != list(range(self.ndim)):
            raise ValueError(f"permute needs each of the {self.ndim} dimensions once, got {axes}")
        return Tensor._make(np.transpose(self.data, axes), "PermuteBackward", self, axes=axes)
        #% endsolution

    def __getitem__(self, key) -> Tensor:
        """NumPy indexing: ints, slices, None, boolean masks and integer arrays."""
        if isinstance(key, Tensor):
            key = key.data
        #% solution hint="Index .data with the same key and save the key for the backward rule."
        return Tensor._make(self.data[key], "IndexBackward", self, key=key)
        #% endsolution

    # ------------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis`` (int, tuple or None for all); ``keepdims`` keeps size-1 axes."""
        #% solution
        out = self.data.sum(axis=axis, keepdims=keepdims)
        return Tensor._make(np.asarray(out), "SumBackward", self, axis=axis, keepdims=keepdims)
        #% endsolution

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        """Average over ``axis``; integer tensors average to float, as in NumPy."""
        #% solution
        out = self.data.mean(axis=axis, keepdims=keepdims)
        return Tensor._make(np.asarray(out), "MeanBackward", self, axis=axis, keepdims=keepdims)
        #% endsolution

    def max(self, axis=None, keepdims: bool = False) -> Tensor:
        """Largest element over ``axis``. Its gradient goes to the maximum (split among ties)."""
        #% solution
        out = self.data.max(axis=axis, keepdims=keepdims)
        return Tensor._make(np.asarray(out), "MaxBackward", self, axis=axis, keepdims=keepdims)
        #% endsolution

    def argmax(self, axis=None) -> Tensor:
        return Tensor(np.argmax(self.data, axis=axis))

    # ------------------------------------------------------------------ comparisons (never tracked)
    def __eq__(self, other) -> Tensor:  # type: ignore[override]
        return Tensor(self.data == self._lift(other).data)

    def __lt__(self, other) -> Tensor:
        return Tensor(self.data < self._lift(other).data)

    def __gt__(self, other) -> Tensor:
        return Tensor(self.data > self._lift(other).data)

    __hash__ = object.__hash__  # tensors are graph nodes: identity, not value, makes them keys

    # ------------------------------------------------------------------ autograd entry points
    def backward(self, gradient=None) -> None:
        """Fill ``.grad`` of every tensor this one depends on (module 05 does the work).

        ``gradient`` defaults to 1 for a one-element tensor, as in PyTorch.
        """
        try:
            from tinytorch.core import autograd
        except ImportError as error:
            raise RuntimeError(
                "backward() needs module 05 (tinytorch/core/autograd.py), which is not in this repository yet"
            ) from error
        autograd.backward(self, gradient)

    def zero_grad(self) -> None:
        self.grad = None

    # ------------------------------------------------------------------ creation helpers
    @staticmethod
    def zeros(*shape, requires_grad: bool = False) -> Tensor:
        return Tensor(np.zeros(_shape_arg(shape), dtype=np.float32), requires_grad=requires_grad)

    @staticmethod
    def ones(*shape, requires_grad: bool = False) -> Tensor:
        return Tensor(np.ones(_shape_arg(shape), dtype=np.float32), requires_grad=requires_grad)

    @staticmethod
    def randn(*shape, requires_grad: bool = False, rng: np.random.Generator | None = None) -> Tensor:
        rng = rng if rng is not None else np.random.default_rng()
        data = rng.standard_normal(_shape_arg(shape), dtype=np.float32)
        return Tensor(data, requires_grad=requires_grad)


def _shape_arg(shape: tuple) -> tuple[int, ...]:
    """Accept both zeros(2, 3) and zeros((2, 3))."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def _as_array(data, dtype=None) -> np.ndarray:
    """Convert input data to an ndarray with the dtype rules of DESIGN.md section 5.

    Python floats -> float32, Python ints -> int64, bools stay bool, NumPy arrays keep
    their dtype, an explicit dtype wins. Tensors are unwrapped (their array is shared).
    """
    #% solution hint="Unwrap Tensors, keep ndarray dtypes, and map Python floats to float32 and ints to int64."
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    if isinstance(data, (np.ndarray, np.generic)):
        return np.asarray(data)
    array = np.asarray(data)
    if array.dtype.kind == "f":
        return array.astype(np.float32)
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    if array.dtype.kind == "b":
        return array
    raise TypeError(f"cannot make a Tensor from {type(data).__name__} with dtype {array.dtype}; use numbers, lists or arrays")
    #% endsolution
