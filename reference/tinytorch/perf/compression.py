"""Module 16: compression, making a trained model smaller without retraining it from scratch.

- **Magnitude pruning** zeroes the weights with the smallest |w|, either the smallest fraction
  of all weights together (global: layers with many unimportant weights lose more) or the
  same fraction of every layer. Masks keep pruned weights at zero while fine-tuning.
- **Structured pruning** removes whole output channels (units of a Linear, filters of a
  Conv2d) with the smallest L2 norm, and the matching inputs of the next layer: the arrays
  really shrink, so memory and FLOPs drop with no sparse kernels.
- **Knowledge distillation** trains a small student to match a large teacher's softened
  probabilities, softmax(logits / T): at T > 1 the teacher's "dark knowledge" (which wrong
  classes are nearly right) becomes visible to the student.

Systems point: unstructured sparsity saves nothing until the zeros are stored sparsely or
skipped by a kernel (80% zeros in a dense float32 array still cost 100% of the bytes and
FLOPs); structured pruning trades some accuracy for savings every dense kernel sees at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinytorch.core.activations import Activation, log_softmax
from tinytorch.core.layers import Dropout, Linear
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.spatial import AvgPool2d, BatchNorm2d, Conv2d, Flatten, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.perf.profiling import named_layers

PRUNABLE = (Linear, Conv2d)
"""Layers whose weights pruning touches (never their biases)."""
PASS_THROUGH = (Activation, MaxPool2d, AvgPool2d, Dropout, Flatten)
"""Parameter-free layers that keep channels where they are; structured pruning looks past them."""


def prunable_weights(model) -> list[tuple[str, Tensor]]:
    """(name, weight) of every Linear and Conv2d of the model ("layers.0.weight"); biases are left out."""
    return [(f"{name}.weight" if name else "weight", layer.weight)
            for name, layer in named_layers(model) if isinstance(layer, PRUNABLE)]


def sparsity(model_or_array) -> float:
    """Fraction of exact zeros: of an array or Tensor, or over all prunable weights of a model."""
    #% solution hint="Collect the arrays (the array itself, the Tensor's data, or every prunable weight's data); count_nonzero(a == 0) summed over them divided by their total size (0.0 when empty)."
    if isinstance(model_or_array, Tensor):
        arrays = [model_or_array.data]
    elif isinstance(model_or_array, np.ndarray):
        arrays = [model_or_array]
    else:
        arrays = [weight.data for _, weight in prunable_weights(model_or_array)]
    total = sum(a.size for a in arrays)
    if total == 0:
        return 0.0
    return float(sum(np.count_nonzero(a == 0) for a in arrays) / total)
    #% endsolution


# ---------------------------------------------------------------------- unstructured pruning
@dataclass
class PruningMasks:
    """Which weights survive pruning: masks[name] is a bool array, True where the weight is kept."""

    weights: dict[str, Tensor]
    masks: dict[str, np.ndarray]

    def apply(self) -> None:
        """Zero the pruned weights again, in place; call after every optimizer step while fine-tuning."""
        #% solution hint="For each name, set the weight's data to 0 where the mask is False (in place, so optimizers keep their references)."
        for name, mask in self.masks.items():
            self.weights[name].data[~mask] = 0
        #% endsolution

    @property
    def sparsity(self) -> float:
        """Fraction of the masked weights that are pruned."""
        total = sum(mask.size for mask in self.masks.values())
        kept = sum(int(mask.sum()) for mask in self.masks.values())
        return 1.0 - kept / total if total else 0.0


def keep_mask(magnitudes: np.ndarray, amount: float) -> np.ndarray:
    """Bool mask of ``magnitudes``' shape, False on exactly round(amount · size) smallest entries."""
    #% solution hint="k = int(round(amount * size)); np.argpartition(flat, k - 1)[:k] gives the k smallest without a full sort."
    flat = magnitudes.ravel()
    mask = np.ones(flat.size, dtype=bool)
    k = int(round(amount * flat.size))
    if k > 0:
        mask[np.argpartition(flat, k - 1)[:k]] = False
    return mask.reshape(magnitudes.shape)
    #% endsolution


def magnitude_prune(model, amount: float, scope: str = "global") -> PruningMasks:
    """Zero the fraction ``amount`` of prunable weights with the smallest |w|; returns the masks.

    scope="global": one threshold over all weights together; scope="layer": the same fraction
    of every weight tensor. Biases are never pruned. The weights are zeroed in place.
    """
    #% solution hint="Refuse amount outside [0, 1) and an unknown scope (ValueError). Global: keep_mask over the concatenated |w| of all layers, split back by sizes; layer: keep_mask per weight. Build PruningMasks, apply it, return it."
    if not 0.0 <= amount < 1.0:
        raise ValueError(f"amount must be in [0, 1), got {amount}")
    if scope not in ("global", "layer"):
        raise ValueError(f"scope must be 'global' or 'layer', got {scope!r}")
    weights = dict(prunable_weights(model))
    if not weights:
        raise ValueError(f"{type(model).__name__} has no Linear or Conv2d weights to prune")
    if scope == "layer":
        masks = {name: keep_mask(np.abs(w.data), amount) for name, w in weights.items()}
    else:
        joined = keep_mask(np.concatenate([np.abs(w.data).ravel() for w in weights.values()]), amount)
        splits = np.cumsum([w.size for w in weights.values()])[:-1]
        masks = {name: part.reshape(w.shape)
                 for (name, w), part in zip(weights.items(), np.split(joined, splits))}
    pruning = PruningMasks(weights, masks)
    pruning.apply()
    return pruning
    #% endsolution


# ---------------------------------------------------------------------- structured pruning
def channel_norms(layer) -> np.ndarray:
    """L2 norm of each output channel's weights: a column of a Linear's W (in, out), a filter of a Conv2d."""
    #% solution hint="Linear: sqrt of the sum of squares over axis 0; Conv2d: over every axis but 0."
    weight = layer.weight.data.astype(np.float64)
    if isinstance(layer, Linear):
        return np.sqrt((weight * weight).sum(axis=0))
    return np.sqrt((weight * weight).reshape(weight.shape[0], -1).sum(axis=1))
    #% endsolution


def _parameter(array: np.ndarray) -> Tensor:
    return Tensor(np.ascontiguousarray(array), requires_grad=True)


def keep_output_channels(layer, keep: np.ndarray) -> None:
    """Shrink a Linear or Conv2d to the output channels ``keep`` (weights and bias become new, smaller tensors)."""
    #% solution hint="Linear: weight[:, keep], out_features; Conv2d: weight[keep], out_channels; bias[keep] if there is one."
    if isinstance(layer, Linear):
        layer.weight = _parameter(layer.weight.data[:, keep])
        layer.out_features = len(keep)
    else:
        layer.weight = _parameter(layer.weight.data[keep])
        layer.out_channels = len(keep)
    if layer.bias is not None:
        layer.bias = _parameter(layer.bias.data[keep])
    #% endsolution


def keep_input_channels(layer, keep: np.ndarray, positions: int = 1) -> None:
    """Shrink a layer to the input channels ``keep``.

    Conv2d: weight[:, keep]; BatchNorm2d: every per-channel array. Linear: its rows; when a
    Flatten sits between a convolution and this Linear, each channel owns ``positions`` = H·W
    consecutive inputs (channel c -> rows c·H·W ... c·H·W + H·W - 1).
    """
    #% solution hint="Linear: rows = (keep[:, None] * positions + arange(positions)).ravel(), weight[rows], in_features; Conv2d: weight[:, keep], in_channels; BatchNorm2d: gamma, beta, running_mean, running_var and num_features."
    if isinstance(layer, Linear):
        rows = (keep[:, None] * positions + np.arange(positions)).ravel()
        layer.weight = _parameter(layer.weight.data[rows])
        layer.in_features = len(rows)
    elif isinstance(layer, Conv2d):
        layer.weight = _parameter(layer.weight.data[:, keep])
        layer.in_channels = len(keep)
    else:
        layer.gamma, layer.beta = _parameter(layer.gamma.data[keep]), _parameter(layer.beta.data[keep])
        layer.running_mean, layer.running_var = layer.running_mean[keep].copy(), layer.running_var[keep].copy()
        layer.num_features = len(keep)
    #% endsolution


def _downstream(layers: list, index: int) -> tuple[list, object]:
    """The BatchNorm2d layers right after layers[index] and the next Linear/Conv2d that reads its channels."""
    norms = []
    for later in layers[index + 1:]:
        if isinstance(later, BatchNorm2d):
            norms.append(later)
        elif isinstance(later, PRUNABLE):
            return norms, later
        elif not isinstance(later, PASS_THROUGH):
            raise ValueError(f"cannot carry pruned channels through {type(later).__name__}; "
                             f"structured pruning knows {', '.join(t.__name__ for t in PASS_THROUGH)} and BatchNorm2d")
    raise ValueError(f"layer {index} feeds the model's output; pruning its channels would drop outputs")


def prune_channels(model, layer_index: int, amount: float) -> np.ndarray:
    """Remove the fraction ``amount`` of output channels of ``model.layers[layer_index]`` with the smallest L2 norm.

    The layer (a Linear or Conv2d in a Sequential) loses those outputs; BatchNorm2d layers after it
    and the next Linear/Conv2d lose the matching inputs, so the model still runs, on smaller
    arrays. At least one channel is kept. Returns the kept channel indices, ascending.
    Build the optimizer after pruning: the pruned layers get new parameter tensors.
    """
    #% solution hint="Check the layer is a Linear/Conv2d and 0 <= amount < 1 (ValueError); find the BatchNorm2d layers and the consumer with _downstream; keep the max(1, C - round(amount·C)) largest norms (sorted ascending); positions = consumer.in_features // C for a Linear consumer; shrink all of them."
    layers = model.layers
    layer = layers[layer_index]
    if not isinstance(layer, PRUNABLE):
        raise ValueError(f"layer {layer_index} is {type(layer).__name__}; only Linear and Conv2d have channels to prune")
    if not 0.0 <= amount < 1.0:
        raise ValueError(f"amount must be in [0, 1), got {amount}")
    norms, consumer = _downstream(layers, layer_index)
    channels = len(channel_norms(layer))
    n_keep = max(1, channels - int(round(amount * channels)))
    keep = np.sort(np.argsort(-channel_norms(layer), kind="stable")[:n_keep])
    positions = consumer.in_features // channels if isinstance(consumer, Linear) else 1
    keep_output_channels(layer, keep)
    for norm in norms:
        keep_input_channels(norm, keep)
    keep_input_channels(consumer, keep, positions)
    return keep
    #% endsolution


# ---------------------------------------------------------------------- distillation
def distillation_loss(student_logits: Tensor, teacher_logits, targets, temperature: float = 4.0,
                      alpha: float = 0.5) -> Tensor:
    """alpha · T² · KL(p_teacher ‖ p_student) + (1 - alpha) · CrossEntropy(student_logits, targets).

    Shapes: logits (N, C), targets (N,) class indices. p = softmax(logits / T); KL is averaged
    over the batch. The T² keeps the soft term's gradient the same size as T changes (the
    softened gradients shrink as 1/T²). Differentiable in the student only: the teacher is a
    constant target.
    """
    #% solution hint="Refuse temperature <= 0 or alpha outside [0, 1]. Teacher log-probs from log_softmax of a constant Tensor(teacher / T); student log-probs = log_softmax(student * (1/T)) (tracked); KL = sum(p_t · (log p_t - log p_s)) / N; mix with CrossEntropyLoss."
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    teacher = teacher_logits.data if isinstance(teacher_logits, Tensor) else np.asarray(teacher_logits)
    if teacher.shape != student_logits.shape:
        raise ValueError(f"teacher logits {teacher.shape} and student logits {student_logits.shape} differ in shape")
    teacher = teacher.astype(student_logits.dtype)
    teacher_log_probs = log_softmax(Tensor(teacher / teacher.dtype.type(temperature))).data
    student_log_probs = log_softmax(student_logits * (1.0 / temperature))
    batch = student_logits.shape[0]
    kl = (Tensor(np.exp(teacher_log_probs)) * (Tensor(teacher_log_probs) - student_log_probs)).sum() * (1.0 / batch)
    soft = kl * (alpha * temperature * temperature)
    if alpha == 1.0:
        return soft
    return soft + CrossEntropyLoss()(student_logits, targets) * (1.0 - alpha)
    #% endsolution
