"""Module 05: reverse-mode automatic differentiation.

Every tracked op of modules 01-04 left a ``Context`` on its output naming a backward rule
(``"MulBackward"``), its parent tensors and what it saved. This module holds those rules
and the engine that runs them:

1. sort the graph topologically, from the output back to the leaves (iteratively: a
   10,000-op chain must not hit Python's recursion limit);
2. walk it in that order once, giving each node's gradient to its rule and adding (+=)
   the results into the parents' gradients, so a tensor used twice gets both shares.

Systems point: backward costs about twice the forward's FLOPs, and every intermediate
the rules need stays in memory until backward has used it; that is why training needs
far more memory than inference, and why ``no_grad()`` matters for evaluation.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from tinytorch.core.tensor import Context, Tensor, is_grad_enabled, set_grad_enabled

__all__ = ["Function", "backward", "no_grad", "enable_grad", "is_grad_enabled", "unbroadcast"]


# ---------------------------------------------------------------------- grad mode
@contextmanager
def no_grad():
    """Inside this block no op records a graph: evaluation without the memory of training."""
    #% solution hint="Switch recording off with set_grad_enabled(False), yield, and restore the previous mode in a finally block."
    previous = set_grad_enabled(False)
    try:
        yield
    finally:
        set_grad_enabled(previous)
    #% endsolution


@contextmanager
def enable_grad():
    """Re-enable recording inside a ``no_grad()`` block."""
    #% solution
    previous = set_grad_enabled(True)
    try:
        yield
    finally:
        set_grad_enabled(previous)
    #% endsolution


# ---------------------------------------------------------------------- the engine
def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a gradient back to the shape of the operand that was broadcast.

    (3, 4) broadcast from (4,) -> sum over axis 0; from (3, 1) -> sum over axis 1, keepdims.
    """
    #% solution hint="First sum away the leading axes broadcasting added, then sum (keepdims) every axis where shape has 1 but grad does not."
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, size in enumerate(shape) if size == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)
    #% endsolution


def topological_order(root: Tensor) -> list[Tensor]:
    """Tensors of the graph ending at ``root``, each after every tensor that depends on it.

    Iterative depth-first search with an explicit stack (no recursion).
    """
    #% solution hint="Post-order DFS with a stack of (tensor, parents_done) pairs and a visited set of ids; reverse the post-order at the end."
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node._ctx is not None:
            stack.extend((parent, False) for parent in node._ctx.parents if id(parent) not in visited)
    return order[::-1]
    #% endsolution


def backward(root: Tensor, gradient=None) -> None:
    """Accumulate d root / d leaf into ``leaf.grad`` for every leaf that requires grad.

    ``gradient`` is d loss / d root; it defaults to 1 when root has one element.
    """
    #% solution hint="Refuse a root that does not require grad; seed = _seed_gradient(root, gradient). grads maps id(tensor) -> array. Walk topological_order(root); leaves (no _ctx) add into .grad; others call their rule and += into each parent that requires grad, after unbroadcast."
    if not root.requires_grad:
        raise RuntimeError("backward() on a tensor that does not require grad: no input had requires_grad=True "
                           "(or it was computed inside no_grad())")
    grads: dict[int, np.ndarray] = {id(root): _seed_gradient(root, gradient)}
    for node in topological_order(root):
        grad = grads.pop(id(node), None)
        if grad is None:
            continue
        if node._ctx is None:
            _accumulate_leaf(node, grad)
            continue
        rule = _resolve(node._ctx)
        parent_grads = rule.backward(node._ctx, grad)
        for parent, parent_grad in zip(node._ctx.parents, parent_grads):
            if parent_grad is None or not parent.requires_grad:
                continue
            parent_grad = unbroadcast(np.asarray(parent_grad), parent.shape)
            if id(parent) in grads:
                grads[id(parent)] = grads[id(parent)] + parent_grad
            else:
                grads[id(parent)] = parent_grad
    #% endsolution


def _seed_gradient(root: Tensor, gradient) -> np.ndarray:
    """d loss / d root as an array: ones for a one-element root, else the given gradient, checked."""
    #% solution hint="No gradient: only a one-element root gets ones (else RuntimeError). Given one: unwrap a Tensor, check the shape (ValueError), cast to root's dtype."
    if gradient is None:
        if root.size != 1:
            raise RuntimeError(f"backward() needs a gradient argument for a tensor of shape {root.shape}; "
                               "only one-element outputs (like a loss) get the default gradient 1")
        return np.ones(root.shape, dtype=root.dtype)
    seed = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient)
    if seed.shape != root.shape:
        raise ValueError(f"gradient of shape {seed.shape} does not match the output's shape {root.shape}")
    return seed.astype(root.dtype, copy=False)
    #% endsolution


def _accumulate_leaf(leaf: Tensor, grad: np.ndarray) -> None:
    grad = grad.astype(leaf.dtype, copy=False)
    if leaf.grad is None:
        leaf.grad = Tensor(grad.copy())
    else:
        leaf.grad = Tensor(leaf.grad.data + grad)


def _resolve(ctx: Context) -> type[Function]:
    """The rule class: named (modules 01-04) or given directly (later modules)."""
    if isinstance(ctx.fn, str):
        rule = globals().get(ctx.fn)
        if rule is None:
            raise RuntimeError(f"no backward rule named {ctx.fn!r} in tinytorch.core.autograd")
        return rule
    return ctx.fn


# ---------------------------------------------------------------------- rules
class Function:
    """A backward rule: ``backward(ctx, grad)`` returns one gradient per parent (or None).

    ``ctx.parents`` are the op's inputs, ``ctx.saved`` what the forward stored. Gradients are
    returned in the shape of the op's *output broadcast*; the engine sums them back.
    """

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        raise NotImplementedError


class AddBackward(Function):
    """d(a + b) = (g, g)."""

    @staticmethod
    def backward(ctx, grad):
        #% solution
        return grad, grad
        #% endsolution


class SubBackward(Function):
    """d(a - b) = (g, -g)."""

    @staticmethod
    def backward(ctx, grad):
        #% solution
        return grad, -grad
        #% endsolution


class MulBackward(Function):
    """d(a * b) = (g * b, g * a)."""

    @staticmethod
    def backward(ctx, grad):
        #% solution
        a, b = ctx.parents
        return grad * b.data, grad * a.data
        #% endsolution


class DivBackward(Function):
    """d(a / b) = (g / b, -g * a / b^2)."""

    @staticmethod
    def backward(ctx, grad):
        #% solution
        a, b = ctx.parents
        return grad / b.data, -grad * a.data / (b.data * b.data)
        #% endsolution


class NegBackward(Function):
    """d(-x) = -g."""

    @staticmethod
    def backward(ctx, grad):
        #% solution
        return (-grad,)
        #% endsolution


class PowBackward(Function):
    """d(x^p) = g * p * x^(p-1)."""

    @staticmethod
    def backward(ctx, grad):
        #% solution
        (x,), p = ctx.parents, ctx.saved["exponent"]
        return (grad * p * x.data ** (p - 1),)
        #% endsolution


class ExpBackward(Function):
    """d(exp x) = g * exp(x), reusing the saved output."""

    @staticmethod
    def backward(ctx, grad):
        #% solution
        return (grad * ctx.saved["out"],)
        #% endsolution


class LogBackward(Function):
    """d(log x) = g / x."""

    @staticmethod
    def backward(ctx, grad):
        #% solution
        return (grad / ctx.parents[0].data,)
        #% endsolution


class SqrtBackward(Function):
    """d(sqrt x) = g / (2 sqrt x), reusing the saved output."""

    @staticmethod
    def backward(ctx, grad):
        #% solution
        return (grad / (2 * ctx.saved["out"]),)
        #% endsolution


class AbsBackward(Function):
    """d|x| = g * sign(x) (0 at 0)."""

    @staticmethod
    def backward(ctx, grad):
        return (grad * np.sign(ctx.parents[0].data),)


class MatmulBackward(Function):
    """d(A @ B) = (g @ B^T, A^T @ g), with 1-D operands promoted and batch dimensions kept.

    Cost: two matmuls of the forward's size, so backward is ~2x the forward's FLOPs.
    """

    @staticmethod
    def backward(ctx, grad):
        #% solution hint="Promote a 1-D a to (1, n) and a 1-D b to (n, 1) (and grad accordingly), use swapaxes(-1, -2) for transposes, then reshape back."
        a, b = ctx.parents[0].data, ctx.parents[1].data
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g = grad
        if b.ndim == 1:  # first: for a dot product grad is 0-d, and only (1,) has an axis -2 to insert at
            g = np.expand_dims(g, -1)
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        grad_a = np.matmul(g, np.swapaxes(b2, -1, -2))
        grad_b = np.matmul(np.swapaxes(a2, -1, -2), g)
        if a.ndim == 1:
            grad_a = grad_a.reshape(grad_a.shape[:-2] + a.shape).sum(axis=tuple(range(grad_a.ndim - 2)))
        if b.ndim == 1:
            grad_b = grad_b.reshape(grad_b.shape[:-2] + b.shape).sum(axis=tuple(range(grad_b.ndim - 2)))
        return grad_a, grad_b
        #% endsolution


class ReshapeBackward(Function):
    """Reshape the gradient back to the input's shape."""

    @staticmethod
    def backward(ctx, grad):
        #% solution
        return (grad.reshape(ctx.parents[0].shape),)
        #% endsolution


class PermuteBackward(Function):
    """Apply the inverse permutation to the gradient."""

    @staticmethod
    def backward(ctx, grad):
        #% solution hint="np.argsort(axes) is the inverse permutation."
        return (np.transpose(grad, np.argsort(ctx.saved["axes"])),)
        #% endsolution


class IndexBackward(Function):
    """Scatter the gradient into zeros of the input's shape; repeated indices add up."""

    @staticmethod
    def backward(ctx, grad):
        #% solution hint="np.add.at(out, key, grad) adds once per occurrence, unlike out[key] += grad."
        out = np.zeros(ctx.parents[0].shape, dtype=grad.dtype)
        np.add.at(out, ctx.saved["key"], grad)
        return (out,)
        #% endsolution


def _expand_reduced(grad: np.ndarray, ctx: Context) -> np.ndarray:
    """Re-insert the axes a reduction removed (keepdims=False) so grad broadcasts to the input."""
    axis, shape = ctx.saved["axis"], ctx.parents[0].shape
    if axis is None or ctx.saved["keepdims"]:
        return grad if axis is not None else np.reshape(grad, (1,) * len(shape))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return np.expand_dims(grad, tuple(a % len(shape) for a in axes))


class SumBackward(Function):
    """Every input element contributed once: broadcast the gradient back."""

    @staticmethod
    def backward(ctx, grad):
        #% solution hint="Use _expand_reduced, then np.broadcast_to the input's shape."
        return (np.broadcast_to(_expand_reduced(grad, ctx), ctx.parents[0].shape),)
        #% endsolution


class MeanBackward(Function):
    """Like sum, divided by the number of elements averaged."""

    @staticmethod
    def backward(ctx, grad):
        #% solution hint="count = input size / output size; keep the division in the gradient's dtype."
        x = ctx.parents[0]
        count = x.size // max(np.size(grad), 1)
        expanded = _expand_reduced(grad, ctx) / grad.dtype.type(count)
        return (np.broadcast_to(expanded, x.shape),)
        #% endsolution


class MaxBackward(Function):
    """The gradient goes to the maximal elements, split evenly among ties."""

    @staticmethod
    def backward(ctx, grad):
        #% solution hint="mask = x == max (broadcast); divide by the number of ties along the reduced axes."
        x = ctx.parents[0].data
        axis = ctx.saved["axis"]
        peak = x.max(axis=axis, keepdims=True)
        mask = (x == peak).astype(grad.dtype)
        mask /= mask.sum(axis=axis, keepdims=True)
        return (mask * _expand_reduced(grad, ctx),)
        #% endsolution


class ReLUBackward(Function):
    """Pass the gradient where x > 0."""

    @staticmethod
    def backward(ctx, grad):
        #% solution
        return (grad * (ctx.parents[0].data > 0),)
        #% endsolution


class SigmoidBackward(Function):
    """d sigma = g * s * (1 - s), from the saved output s."""

    @staticmethod
    def backward(ctx, grad):
        #% solution
        s = ctx.saved["out"]
        return (grad * s * (1 - s),)
        #% endsolution


class TanhBackward(Function):
    """d tanh = g * (1 - t^2), from the saved output t."""

    @staticmethod
    def backward(ctx, grad):
        #% solution
        t = ctx.saved["out"]
        return (grad * (1 - t * t),)
        #% endsolution


class GELUBackward(Function):
    """Derivative of the tanh approximation: 0.5(1 + tanh u) + 0.5 x (1 - tanh^2 u) u'."""

    @staticmethod
    def backward(ctx, grad):
        #% solution hint="u = c (x + 0.044715 x^3) with c = sqrt(2/pi); u' = c (1 + 3 * 0.044715 x^2)."
        x = ctx.parents[0].data
        c = np.asarray(np.sqrt(2.0 / np.pi), dtype=x.dtype)
        square = x * x
        t = np.tanh(c * (x + 0.044715 * square * x))
        du = c * (1 + 3 * 0.044715 * square)
        return (grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du),)
        #% endsolution


class SoftmaxBackward(Function):
    """Jacobian-vector product of softmax: s * (g - sum(g * s)) along dim."""

    @staticmethod
    def backward(ctx, grad):
        #% solution
        s, dim = ctx.saved["out"], ctx.saved["dim"]
        return (s * (grad - (grad * s).sum(axis=dim, keepdims=True)),)
        #% endsolution


class LogSoftmaxBackward(Function):
    """g - softmax * sum(g) along dim, with softmax = exp(saved output)."""

    @staticmethod
    def backward(ctx, grad):
        #% solution
        out, dim = ctx.saved["out"], ctx.saved["dim"]
        return (grad - np.exp(out) * grad.sum(axis=dim, keepdims=True),)
        #% endsolution


class CrossEntropyBackward(Function):
    """(softmax(logits) - onehot(targets)) / N, scaled by the incoming gradient."""

    @staticmethod
    def backward(ctx, grad):
        #% solution hint="Copy probs, subtract 1 at [arange(N), targets], divide by N, multiply by grad."
        probs, targets = ctx.saved["probs"], ctx.saved["targets"]
        out = probs.copy()
        out[np.arange(len(targets)), targets] -= 1
        return (out * (grad / len(targets)),)
        #% endsolution


class BCEBackward(Function):
    """d/dp of mean BCE: (p - t) / (p (1 - p)) / n, with p clipped as in the forward."""

    @staticmethod
    def backward(ctx, grad):
        #% solution hint="Clip p like the forward; the gradient is zero where the clip was active."
        pred, eps, t = ctx.parents[0].data, ctx.saved["eps"], ctx.saved["target"]
        p = np.clip(pred, eps, 1 - eps)
        inside = (pred >= eps) & (pred <= 1 - eps)
        return (grad * inside * (p - t) / (p * (1 - p)) / pred.size,)
        #% endsolution
