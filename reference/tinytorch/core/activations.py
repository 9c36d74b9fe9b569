"""Module 02: activation functions, the non-linearities between layers.

Without them a stack of Linear layers collapses into one linear map. Each activation is
element-wise (Softmax works along one dimension), keeps the input's shape and dtype, and
returns its result through ``Tensor._make`` naming the backward rule of module 05.

Systems point: activations are memory-bound (one read, one write per element), so the
cost is bytes moved, not FLOPs; and the stable formulations below never produce inf or
NaN, whatever the input's magnitude.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import Tensor

_SQRT_2_OVER_PI = np.float32(np.sqrt(2.0 / np.pi))
_GELU_CUBIC = np.float32(0.044715)


class Activation:
    """Shared plumbing: call the object like a function; no parameters."""

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def parameters(self) -> list[Tensor]:
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ReLU(Activation):
    """max(0, x), element-wise. x: any shape -> same shape."""

    def forward(self, x: Tensor) -> Tensor:
        #% solution hint="np.maximum(x.data, 0) keeps float32; name the rule 'ReLUBackward'."
        return Tensor._make(np.maximum(x.data, 0), "ReLUBackward", x)
        #% endsolution


class Sigmoid(Activation):
    """1 / (1 + exp(-x)), element-wise, without overflow for large |x|.

    Stability: exp(-x) overflows for x << 0, so negative inputs use the equivalent
    exp(x) / (1 + exp(x)); only exponents <= 0 are ever evaluated.
    """

    def forward(self, x: Tensor) -> Tensor:
        #% solution hint="Compute z = exp(-|x|) once; the result is 1/(1+z) where x >= 0 and z/(1+z) elsewhere."
        z = np.exp(-np.abs(x.data))
        out = np.where(x.data >= 0, 1 / (1 + z), z / (1 + z)).astype(x.dtype, copy=False)
        return Tensor._make(out, "SigmoidBackward", x, out=out)
        #% endsolution


class Tanh(Activation):
    """Hyperbolic tangent, element-wise; output in (-1, 1)."""

    def forward(self, x: Tensor) -> Tensor:
        #% solution
        out = np.tanh(x.data)
        return Tensor._make(out, "TanhBackward", x, out=out)
        #% endsolution


class GELU(Activation):
    """Gaussian error linear unit, tanh approximation (as in GPT-2).

    gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    """

    def forward(self, x: Tensor) -> Tensor:
        #% solution hint="Use the float32 constants _SQRT_2_OVER_PI and _GELU_CUBIC defined above."
        cube = x.data * x.data * x.data  # not x ** 3: a float power is many times slower
        inner = _SQRT_2_OVER_PI * (x.data + _GELU_CUBIC * cube)
        out = 0.5 * x.data * (1 + np.tanh(inner))
        return Tensor._make(out, "GELUBackward", x)
        #% endsolution


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """exp(x_i) / sum_j exp(x_j) along ``dim``; every slice sums to 1.

    Stability: subtracting the slice's maximum first changes nothing mathematically and
    keeps every exponent <= 0, so no overflow even for logits of 1e4.
    """
    #% solution hint="Subtract x.max(axis=dim, keepdims=True) before np.exp, then divide by the sum with keepdims."
    shifted = x.data - x.data.max(axis=dim, keepdims=True)
    exps = np.exp(shifted)
    out = exps / exps.sum(axis=dim, keepdims=True)
    return Tensor._make(out, "SoftmaxBackward", x, out=out, dim=dim)
    #% endsolution


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """log(softmax(x)) computed as x - max - log(sum(exp(x - max))) (the log-sum-exp trick).

    Taking the log of softmax's output would give -inf where a probability underflows to 0;
    this form stays finite.
    """
    #% solution hint="shifted = x - max; result = shifted - log(sum(exp(shifted))) along dim, keepdims."
    shifted = x.data - x.data.max(axis=dim, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
    return Tensor._make(out, "LogSoftmaxBackward", x, out=out, dim=dim)
    #% endsolution


class Softmax(Activation):
    """Softmax along ``dim`` (the last by default): turns scores into probabilities."""

    def __init__(self, dim: int = -1):
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return softmax(x, self.dim)

    def __repr__(self) -> str:
        return f"Softmax(dim={self.dim})"
