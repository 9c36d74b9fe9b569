"""Module 07: the training loop and what makes it work in practice.

Learning-rate schedules, gradient clipping, a ``Trainer`` that runs epochs and evaluation,
and checkpoints saved as ``.npz`` (plain arrays, loadable without pickle, so a checkpoint
from a stranger cannot run code on your machine).

Systems point: evaluation runs under ``no_grad()`` and in ``eval()`` mode: no graph is
kept, so memory stays at one batch's activations, and Dropout/BatchNorm behave as at
inference time.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor


# ---------------------------------------------------------------------- learning-rate schedules
class Schedule:
    """Sets ``optimizer.lr`` from a step (or epoch) counter: call ``step()`` once per unit."""

    def __init__(self, optimizer=None):
        self.optimizer = optimizer
        self.count = 0
        if optimizer is not None:
            optimizer.lr = self.get_lr(0)

    def get_lr(self, count: int) -> float:
        raise NotImplementedError

    def step(self) -> float:
        self.count += 1
        lr = self.get_lr(self.count)
        if self.optimizer is not None:
            self.optimizer.lr = lr
        return lr


class StepLR(Schedule):
    """lr = base_lr · gamma^(count // step_size)."""

    def __init__(self, base_lr: float, step_size: int, gamma: float = 0.1, optimizer=None):
        self.base_lr, self.step_size, self.gamma = base_lr, step_size, gamma
        super().__init__(optimizer)

    def get_lr(self, count: int) -> float:
        #% solution
        return self.base_lr * self.gamma ** (count // self.step_size)
        #% endsolution


class CosineSchedule(Schedule):
    """Cosine decay from max_lr to min_lr over total_epochs, then min_lr."""

    def __init__(self, max_lr: float = 0.1, min_lr: float = 0.01, total_epochs: int = 100, optimizer=None):
        self.max_lr, self.min_lr, self.total_epochs = max_lr, min_lr, total_epochs
        super().__init__(optimizer)

    def get_lr(self, epoch: int) -> float:
        #% solution hint="progress = min(epoch / total, 1); lr = min + (max - min) · (1 + cos(pi · progress)) / 2."
        progress = min(epoch / self.total_epochs, 1.0)
        return self.min_lr + (self.max_lr - self.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
        #% endsolution


class OneCycleLR(Schedule):
    """Warm up linearly from max_lr/div_factor to max_lr over pct_start of the steps, then cosine down to ~0.

    Per step, not per epoch. The warm-up keeps early, badly-scaled gradients from wrecking the
    weights; the long decay lets training settle into a good minimum.
    """

    def __init__(self, max_lr: float, total_steps: int, pct_start: float = 0.3, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, optimizer=None):
        self.max_lr, self.total_steps, self.pct_start = max_lr, total_steps, pct_start
        self.start_lr, self.end_lr = max_lr / div_factor, max_lr / div_factor / final_div_factor
        super().__init__(optimizer)

    def get_lr(self, step: int) -> float:
        #% solution hint="warm = pct_start · total_steps; before it interpolate start -> max linearly, after it cosine max -> end over the remaining steps."
        warm = max(1, int(self.pct_start * self.total_steps))
        if step < warm:
            return self.start_lr + (self.max_lr - self.start_lr) * step / warm
        progress = min((step - warm) / max(1, self.total_steps - warm), 1.0)
        return self.end_lr + (self.max_lr - self.end_lr) * 0.5 * (1 + math.cos(math.pi * progress))
        #% endsolution


def clip_grad_norm(parameters, max_norm: float) -> float:
    """Scale all gradients so their global L2 norm is at most max_norm; returns the norm before clipping."""
    #% solution hint="total = sqrt(sum of squared gradient entries over all parameters); if above max_norm multiply every grad by max_norm / total."
    grads = [p.grad for p in parameters if p.grad is not None]
    total = math.sqrt(sum(float((g.data.astype(np.float64) ** 2).sum()) for g in grads))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g.data *= scale
    return total
    #% endsolution


# ---------------------------------------------------------------------- the trainer
class Trainer:
    """Runs epochs of (forward, loss, backward, clip, step) and evaluates, keeping a history."""

    def __init__(self, model, optimizer, loss_fn, scheduler: Schedule | None = None,
                 grad_clip_norm: float | None = None, step_scheduler_per: str = "epoch"):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.scheduler, self.grad_clip_norm = scheduler, grad_clip_norm
        self.step_scheduler_per = step_scheduler_per
        self.epoch = 0
        self.history: dict[str, list[float]] = {"train_loss": [], "eval_loss": [], "eval_accuracy": [], "learning_rates": []}

    def train_step(self, inputs: Tensor, targets: Tensor) -> float:
        """One optimisation step on a batch; returns the batch loss."""
        #% solution hint="zero_grad, forward, loss, backward, optional clip_grad_norm, optimizer.step, optional per-step scheduler.step."
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(inputs), targets)
        loss.backward()
        if self.grad_clip_norm is not None:
            clip_grad_norm(self.model.parameters(), self.grad_clip_norm)
        self.optimizer.step()
        if self.scheduler is not None and self.step_scheduler_per == "step":
            self.scheduler.step()
        return loss.item()
        #% endsolution

    def train_epoch(self, dataloader, progress=None) -> float:
        """One pass over the data in training mode; returns the mean batch loss."""
        self.model.train()
        losses = []
        for inputs, targets in dataloader:
            losses.append(self.train_step(inputs, targets))
            if progress is not None:
                progress(losses[-1])
        self.epoch += 1
        if self.scheduler is not None and self.step_scheduler_per == "epoch":
            self.scheduler.step()
        mean = float(np.mean(losses)) if losses else float("nan")
        self.history["train_loss"].append(mean)
        self.history["learning_rates"].append(float(self.optimizer.lr))
        return mean

    def evaluate(self, dataloader) -> tuple[float, float]:
        """(mean loss, accuracy) in eval mode without a graph."""
        #% solution hint="model.eval() and no_grad(); accumulate loss x batch size and correct argmax predictions; restore train mode at the end."
        self.model.eval()
        total_loss, correct, count = 0.0, 0, 0
        with no_grad():
            for inputs, targets in dataloader:
                logits = self.model(inputs)
                total_loss += self.loss_fn(logits, targets).item() * len(targets.data)
                correct += int((logits.data.argmax(axis=-1) == targets.data).sum())
                count += len(targets.data)
        self.model.train()
        loss, accuracy = total_loss / max(count, 1), correct / max(count, 1)
        #% endsolution
        self.history["eval_loss"].append(loss)
        self.history["eval_accuracy"].append(accuracy)
        return loss, accuracy

    def fit(self, train_loader, epochs: int, val_loader=None, verbose: bool | None = None) -> dict:
        """Train for some epochs, evaluating after each when val_loader is given; returns the history."""
        verbose = sys.stdout.isatty() if verbose is None else verbose
        for _ in range(epochs):
            loss = self.train_epoch(train_loader)
            line = f"epoch {self.epoch}: train loss {loss:.4f}"
            if val_loader is not None:
                val_loss, accuracy = self.evaluate(val_loader)
                line += f", eval loss {val_loss:.4f}, accuracy {accuracy:.2%}"
            if verbose:
                print(line)
        return self.history

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path) -> Path:
        """Parameters by name, optimizer state and history in one .npz (no pickle)."""
        #% solution hint="A flat dict of arrays: 'param/<name>', 'opt/<i>/<key>', 'hyper/<name>', 'history/<key>', 'meta/epoch' and 'meta/step_count'; np.savez."
        arrays = {f"param/{name}": p.data for name, p in self.model.named_parameters()}
        state = self.optimizer.state_dict()
        for i, entry in enumerate(state["state"]):
            arrays.update({f"opt/{i}/{key}": value for key, value in entry.items()})
        arrays.update({f"hyper/{k}": np.asarray(v) for k, v in state["hyperparameters"].items()})
        arrays.update({f"history/{k}": np.asarray(v, dtype=np.float64) for k, v in self.history.items()})
        arrays.update({"meta/epoch": np.asarray(self.epoch), "meta/step_count": np.asarray(state["step_count"])})
        path = Path(path)
        np.savez(path, **arrays)
        return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")
        #% endsolution

    def load_checkpoint(self, path) -> None:
        """Restore what save_checkpoint wrote, exactly (allow_pickle=False)."""
        #% solution hint="np.load(path, allow_pickle=False); copy params into p.data[...] by name; rebuild the optimizer state_dict; restore history and epoch."
        with np.load(path, allow_pickle=False) as data:
            for name, p in self.model.named_parameters():
                key = f"param/{name}"
                if key not in data or data[key].shape != p.shape:
                    raise ValueError(f"checkpoint {path} has no parameter {name} of shape {p.shape}")
                p.data[...] = data[key]
            state = [{} for _ in self.optimizer.params]
            for key in data.files:
                if key.startswith("opt/"):
                    _, index, name = key.split("/", 2)
                    state[int(index)][name] = data[key].copy()
            hyper = {key.split("/", 1)[1]: data[key].item() if data[key].ndim == 0 else tuple(data[key].tolist())
                     for key in data.files if key.startswith("hyper/")}
            self.optimizer.load_state_dict({"hyperparameters": hyper, "step_count": int(data["meta/step_count"]),
                                            "state": state})
            self.history = {key.split("/", 1)[1]: data[key].tolist() for key in data.files if key.startswith("history/")}
            self.epoch = int(data["meta/epoch"])
        #% endsolution
