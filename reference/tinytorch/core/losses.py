"""Module 04: loss functions, the single number training drives down.

Each loss reduces a batch to a scalar Tensor (the mean over examples), so its gradient
has the same scale whatever the batch size.

Systems point: cross-entropy is computed from logits with the log-sum-exp trick in one
pass, never as log(softmax(x)): softmax can round a probability to exactly 0 in float32
(for logit gaps above ~104), and log(0) is -inf.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.activations import log_softmax
from tinytorch.core.tensor import Tensor

EPSILON = 1e-7  # clip for probabilities in binary cross-entropy

__all__ = ["MSELoss", "CrossEntropyLoss", "BinaryCrossEntropyLoss", "log_softmax"]


def _as_tensor(value) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor(value)


class Loss:
    """Shared plumbing: ``loss(predictions, targets)`` calls ``forward``."""

    def __call__(self, predictions: Tensor, targets) -> Tensor:
        return self.forward(predictions, targets)

    def forward(self, predictions: Tensor, targets) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MSELoss(Loss):
    """Mean squared error: mean((pred - target)^2) over every element.

    Shapes: pred and target the same shape (any). Built from tracked primitives, so it
    needs no backward rule of its own.
    """

    def forward(self, predictions: Tensor, targets) -> Tensor:
        targets = _as_tensor(targets)
        #% solution hint="Refuse shapes that differ (broadcasting would silently average the wrong pairs), then compose tracked ops: difference, ** 2, mean()."
        if predictions.shape != targets.shape:
            raise ValueError(f"MSELoss needs predictions and targets of the same shape, got {predictions.shape} and {targets.shape}")
        diff = predictions - targets.astype(predictions.dtype)
        return (diff ** 2).mean()
        #% endsolution


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy from raw scores: mean over the batch of -log p[target].

    Shapes: logits (N, C) float; targets (N,) integer class indices in [0, C).
    The gradient with respect to the logits is (softmax(logits) - onehot(targets)) / N.
    """

    def forward(self, logits: Tensor, targets) -> Tensor:
        targets = _as_tensor(targets)
        _check_class_targets(logits, targets)
        #% solution hint="log_probs = log-sum-exp form of log softmax (on .data); pick log_probs[arange(N), targets]; save probs=exp(log_probs) and the targets."
        shifted = logits.data - logits.data.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        labels = targets.data
        loss = -log_probs[np.arange(len(labels)), labels].mean()
        return Tensor._make(np.asarray(loss, dtype=logits.dtype), "CrossEntropyBackward", logits,
                            probs=np.exp(log_probs), targets=labels)
        #% endsolution


class BinaryCrossEntropyLoss(Loss):
    """-mean(t log p + (1 - t) log(1 - p)) for probabilities p in (0, 1) and targets t in [0, 1].

    Stability: p is clipped to [eps, 1 - eps] so log never sees 0. Shapes: pred and target alike.
    """

    def __init__(self, eps: float = EPSILON):
        self.eps = eps

    def forward(self, predictions: Tensor, targets) -> Tensor:
        targets = _as_tensor(targets)
        #% solution hint="Refuse shapes that differ; clip predictions.data to [eps, 1 - eps]; save target and eps for the backward rule."
        if predictions.shape != targets.shape:
            raise ValueError(f"BinaryCrossEntropyLoss needs predictions and targets of the same shape, got {predictions.shape} and {targets.shape}")
        p = np.clip(predictions.data, self.eps, 1 - self.eps)
        t = targets.data.astype(predictions.dtype)
        loss = -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean()
        return Tensor._make(np.asarray(loss, dtype=predictions.dtype), "BCEBackward", predictions, target=t, eps=self.eps)
        #% endsolution

    def __repr__(self) -> str:
        return f"BinaryCrossEntropyLoss(eps={self.eps})"


def _check_class_targets(logits: Tensor, targets: Tensor) -> None:
    """Raise clear errors for the usual mistakes with class-index targets."""
    #% solution hint="Check: logits 2-D; targets integer dtype (TypeError); targets shape (N,) (ValueError naming both shapes); labels in [0, C)."
    if logits.ndim != 2:
        raise ValueError(f"CrossEntropyLoss expects logits of shape (N, C), got {logits.shape}")
    if targets.dtype.kind not in "iu":
        raise TypeError(f"CrossEntropyLoss expects integer class indices as targets, got dtype {targets.dtype}; "
                        "convert with targets.astype(np.int64) (one-hot targets are not supported)")
    if targets.shape != (logits.shape[0],):
        raise ValueError(f"CrossEntropyLoss expects targets of shape ({logits.shape[0]},) for logits {logits.shape}, "
                         f"got {targets.shape}")
    if targets.size and (targets.data.min() < 0 or targets.data.max() >= logits.shape[1]):
        raise ValueError(f"class indices must be in [0, {logits.shape[1]}), got values from "
                         f"{targets.data.min()} to {targets.data.max()}")
    #% endsolution
