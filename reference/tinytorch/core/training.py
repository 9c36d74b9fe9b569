"""Module 07: the training loop and what makes it work in practice.

Learning-rate schedules, gradient clipping, a ``Trainer`` that runs epochs and evaluation,
and checkpoints saved as ``.npz`` files of plain arrays: they load with
``allow_pickle=False``, so opening a checkpoint from a stranger cannot run code.

Systems point: evaluation runs under ``no_grad()`` and in ``eval()`` mode, so no graph is
kept (memory stays at one batch of activations) and Dropout/BatchNorm behave as at
inference. Gradient accumulation trades time for memory: k batches of B cost the memory of
one batch of B but give the gradient of one batch of k·B.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor

# ---------------------------------------------------------------- learning-rate schedules


class Schedule:
    """Base of the schedules: ``get_lr(count)`` is the formula, ``step()`` advances and sets ``optimizer.lr``.

    ``count`` counts epochs or optimizer steps, whichever unit the schedule is stepped in.
    With an optimizer attached, construction already sets ``optimizer.lr = get_lr(0)``.
    """

    def __init__(self, optimizer=None):
        self.optimizer = optimizer
        self.count = 0
        if optimizer is not None:
            optimizer.lr = self.get_lr(0)

    def get_lr(self, count: int) -> float:
        raise NotImplementedError

    def step(self) -> float:
        """Advance one unit; set and return the new learning rate."""
        #% solution hint="Increment self.count, compute get_lr(self.count), write it to self.optimizer.lr when there is an optimizer, return it."
        self.count += 1
        lr = self.get_lr(self.count)
        if self.optimizer is not None:
            self.optimizer.lr = lr
        return lr
        #% endsolution

    def __repr__(self) -> str:
        return f"{type(self).__name__}(count={self.count}, lr={self.get_lr(self.count):.3g})"


class StepLR(Schedule):
    """Multiply the rate by ``gamma`` every ``step_size`` units: lr = base_lr · gamma^(count // step_size)."""

    def __init__(self, base_lr: float, step_size: int, gamma: float = 0.1, optimizer=None):
        if step_size < 1:
            raise ValueError(f"step_size must be >= 1, got {step_size}")
        self.base_lr, self.step_size, self.gamma = base_lr, step_size, gamma
        super().__init__(optimizer)

    def get_lr(self, count: int) -> float:
        #% solution hint="Integer division of count by step_size gives the number of decays so far."
        return self.base_lr * self.gamma ** (count // self.step_size)
        #% endsolution


class CosineSchedule(Schedule):
    """Cosine decay from ``max_lr`` at epoch 0 to ``min_lr`` at ``total_epochs``, then flat.

    lr(e) = min_lr + (max_lr - min_lr) · (1 + cos(pi · e / total_epochs)) / 2
    """

    def __init__(self, max_lr: float = 0.1, min_lr: float = 0.01, total_epochs: int = 100, optimizer=None):
        if total_epochs < 1:
            raise ValueError(f"total_epochs must be >= 1, got {total_epochs}")
        self.max_lr, self.min_lr, self.total_epochs = max_lr, min_lr, total_epochs
        super().__init__(optimizer)

    def get_lr(self, epoch: int) -> float:
        #% solution hint="progress = min(epoch / total_epochs, 1); return min_lr + (max_lr - min_lr) * (1 + cos(pi * progress)) / 2."
        progress = min(epoch / self.total_epochs, 1.0)
        return self.min_lr + (self.max_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
        #% endsolution


class OneCycleLR(Schedule):
    """Linear warm-up from max_lr/div_factor to max_lr, then cosine down to a tiny final rate. Per step.

    warm = pct_start · total_steps. For s <= warm: lr = start + (max - start) · s / warm;
    after: lr = end + (max - end) · (1 + cos(pi · (s - warm) / (total_steps - warm))) / 2,
    with start = max_lr / div_factor and end = start / final_div_factor; flat at end after total_steps.
    The warm-up keeps early, badly scaled gradients (Adam's moments are still empty) from
    wrecking the weights; the long decay lets training settle.
    """

    def __init__(self, max_lr: float, total_steps: int, pct_start: float = 0.3, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, optimizer=None):
        if total_steps < 1 or not 0.0 <= pct_start < 1.0:
            raise ValueError(f"need total_steps >= 1 and 0 <= pct_start < 1, got {total_steps} and {pct_start}")
        self.max_lr, self.total_steps, self.pct_start = max_lr, total_steps, pct_start
        self.start_lr = max_lr / div_factor
        self.end_lr = self.start_lr / final_div_factor
        super().__init__(optimizer)

    def get_lr(self, step: int) -> float:
        #% solution hint="warm = pct_start * total_steps; linear start -> max while step <= warm (mind warm == 0), then cosine max -> end over the remaining steps; clamp after total_steps."
        warm = self.pct_start * self.total_steps
        if step <= warm and warm > 0:
            return self.start_lr + (self.max_lr - self.start_lr) * step / warm
        progress = min((step - warm) / (self.total_steps - warm), 1.0)
        return self.end_lr + (self.max_lr - self.end_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
        #% endsolution


# ---------------------------------------------------------------- gradient clipping


def clip_grad_norm(parameters, max_norm: float) -> float:
    """Rescale all gradients together so their global L2 norm is at most ``max_norm``; return the norm before.

    norm = sqrt(sum over parameters of sum(grad²)); if norm > max_norm every gradient is
    multiplied by max_norm / norm (the direction is kept, only the length shrinks), in place.
    The sum is taken in float64 (a float32 sum of squares overflows above ~1e19); the
    gradients stay float32. Parameters without a gradient are skipped.
    """
    if max_norm <= 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}")
    #% solution hint="Collect the .grad of parameters that have one; total = sqrt(sum of float64 squares); if above max_norm multiply each grad.data in place by max_norm / total (a python float keeps float32)."
    grads = [p.grad for p in parameters if p.grad is not None]
    total = math.sqrt(sum(float(np.square(g.data, dtype=np.float64).sum()) for g in grads))
    if total > max_norm:
        scale = max_norm / total
        for g in grads:
            g.data *= scale
    return total
    #% endsolution


# ---------------------------------------------------------------- progress bars (optional dependency)


def _progress_bar(enabled: bool | None):
    """A ``rich`` Progress if not disabled, stdout is a terminal and rich is installed; else None.

    tinytorch depends on NumPy only: rich is imported here, lazily, and its absence is fine.
    """
    if enabled is False or not sys.stdout.isatty():
        return None
    try:
        from rich.progress import Progress
    except ImportError:
        return None
    return Progress(transient=True)


# ---------------------------------------------------------------- the trainer


class Trainer:
    """Runs epochs of (forward, loss, backward, clip, step), evaluates, keeps a history, saves checkpoints.

    Args:
        model: a Layer (``parameters()``, ``named_parameters()``, ``train()``/``eval()``).
        optimizer: an Optimizer over the model's parameters.
        loss_fn: called as ``loss_fn(model(inputs), targets)``, returns a scalar Tensor.
        scheduler: a Schedule, stepped once per epoch (or per optimizer step with
            ``step_scheduler_per="step"``, as OneCycleLR expects).
        grad_clip_norm: clip the global gradient norm to this before each step.

    ``history`` holds per-epoch ``train_loss``, ``learning_rates`` (the rate at the start of
    the epoch) and, after each ``evaluate``, ``eval_loss`` and ``eval_accuracy``.
    """

    def __init__(self, model, optimizer, loss_fn, scheduler: Schedule | None = None,
                 grad_clip_norm: float | None = None, step_scheduler_per: str = "epoch"):
        if step_scheduler_per not in ("epoch", "step"):
            raise ValueError(f"step_scheduler_per must be 'epoch' or 'step', got {step_scheduler_per!r}")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.scheduler, self.grad_clip_norm = scheduler, grad_clip_norm
        self.step_scheduler_per = step_scheduler_per
        self.epoch = 0
        self.history: dict[str, list[float]] = {"train_loss": [], "eval_loss": [], "eval_accuracy": [],
                                                "learning_rates": []}

    def apply_gradients(self) -> None:
        """Clip (if asked), take one optimizer step, clear the gradients, step a per-step schedule."""
        #% solution hint="clip_grad_norm(model.parameters(), grad_clip_norm) if set; optimizer.step(); optimizer.zero_grad(); scheduler.step() when stepping per step."
        if self.grad_clip_norm is not None:
            clip_grad_norm(self.model.parameters(), self.grad_clip_norm)
        self.optimizer.step()
        self.optimizer.zero_grad()
        if self.scheduler is not None and self.step_scheduler_per == "step":
            self.scheduler.step()
        #% endsolution

    def train_epoch(self, dataloader, accumulation_steps: int = 1, progress=None) -> float:
        """One pass over ``dataloader`` in training mode; returns the mean batch loss.

        With ``accumulation_steps = k`` each loss is divided by k and gradients add up over k
        batches before one optimizer step (and a last step for a leftover group).
        ``progress``, if given, is called with each batch loss (a float).
        """
        if accumulation_steps < 1:
            raise ValueError(f"accumulation_steps must be >= 1, got {accumulation_steps}")
        self.model.train()
        self.optimizer.zero_grad()
        self.history["learning_rates"].append(float(self.optimizer.lr))
        losses: list[float] = []
        pending = 0
        for inputs, targets in dataloader:
            #% solution hint="loss = loss_fn(model(inputs), targets); backward on loss * (1 / k); count pending batches and call apply_gradients every k; keep loss.item()."
            loss = self.loss_fn(self.model(inputs), targets)
            (loss * (1.0 / accumulation_steps)).backward()
            pending += 1
            if pending == accumulation_steps:
                self.apply_gradients()
                pending = 0
            losses.append(loss.item())
            #% endsolution
            if progress is not None:
                progress(losses[-1])
        if pending:
            self.apply_gradients()
        self.epoch += 1
        if self.scheduler is not None and self.step_scheduler_per == "epoch":
            self.scheduler.step()
        mean = float(np.mean(losses)) if losses else float("nan")
        self.history["train_loss"].append(mean)
        return mean

    def evaluate(self, dataloader) -> tuple[float, float]:
        """(mean loss over samples, accuracy) in eval mode under ``no_grad()``; restores the previous mode.

        Accuracy compares ``argmax`` of (N, C) outputs with integer targets; it is NaN for
        other targets (regression). Batch losses are weighted by batch size, so a small last
        batch does not count as much as a full one.
        """
        was_training = getattr(self.model, "training", True)
        self.model.eval()
        #% solution hint="Under no_grad(): sum loss.item() * batch size and the number of argmax hits over batches (accuracy only for integer targets and 2-D outputs); divide by the sample count; then model.train(was_training)."
        total_loss, correct, count = 0.0, 0, 0
        classify = True
        with no_grad():
            for inputs, targets in dataloader:
                outputs = self.model(inputs)
                labels = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
                total_loss += self.loss_fn(outputs, targets).item() * len(labels)
                count += len(labels)
                classify = classify and outputs.ndim == 2 and labels.dtype.kind in "iu"
                if classify:
                    correct += int((outputs.data.argmax(axis=1) == labels).sum())
        self.model.train(was_training)
        loss = total_loss / count if count else float("nan")
        accuracy = correct / count if count and classify else float("nan")
        #% endsolution
        self.history["eval_loss"].append(loss)
        self.history["eval_accuracy"].append(accuracy)
        return loss, accuracy

    def fit(self, train_loader, epochs: int, val_loader=None, progress: bool | None = None) -> dict:
        """Train for ``epochs`` epochs, evaluating after each when ``val_loader`` is given; return ``history``.

        ``progress``: None (default) reports on a terminal only: a rich progress bar when rich is
        installed, else one line per epoch. True also prints the lines when not a terminal; False is silent.
        """
        bar = _progress_bar(progress)
        show_lines = progress is True or (progress is None and sys.stdout.isatty())
        for _ in range(epochs):
            if bar is not None:
                with bar:
                    task = bar.add_task(f"epoch {self.epoch + 1}", total=len(train_loader))
                    loss = self.train_epoch(train_loader, progress=lambda value: bar.update(
                        task, advance=1, description=f"epoch {self.epoch + 1} loss {value:.4f}"))
            else:
                loss = self.train_epoch(train_loader)
            line = f"epoch {self.epoch}: train loss {loss:.4f}"
            if val_loader is not None:
                val_loss, accuracy = self.evaluate(val_loader)
                line += f", eval loss {val_loss:.4f}, accuracy {accuracy:.2%}"
            if show_lines:
                print(line, flush=True)
        return self.history

    # ------------------------------------------------------------ checkpoints

    def save_checkpoint(self, path) -> Path:
        """Write parameters (by name), optimizer state, schedule position, history and epoch to one .npz.

        Keys: ``param/<name>``, ``opt/<i>/<key>`` (state arrays of parameter i), ``hyper/<name>``,
        ``history/<key>``, ``meta/epoch``, ``meta/step_count``, ``meta/schedule_count``. All
        plain arrays, so ``np.load(..., allow_pickle=False)`` reads it.
        """
        #% solution hint="Build a flat dict of np arrays with the keys above (history lists as float64 arrays, schedule count -1 without a scheduler); np.savez(path, **arrays)."
        state = self.optimizer.state_dict()
        arrays = {f"param/{name}": p.data for name, p in self.model.named_parameters()}
        for i, entry in enumerate(state["state"]):
            arrays.update({f"opt/{i}/{key}": value for key, value in entry.items()})
        arrays.update({f"hyper/{key}": np.asarray(value) for key, value in state["hyperparameters"].items()})
        arrays.update({f"history/{key}": np.asarray(values, dtype=np.float64) for key, values in self.history.items()})
        arrays["meta/epoch"] = np.asarray(self.epoch)
        arrays["meta/step_count"] = np.asarray(state["step_count"])
        arrays["meta/schedule_count"] = np.asarray(self.scheduler.count if self.scheduler is not None else -1)
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")  # np.savez would add it anyway
        np.savez(path, **arrays)
        #% endsolution
        return path

    def load_checkpoint(self, path) -> None:
        """Restore exactly what ``save_checkpoint`` wrote (``allow_pickle=False``); ValueError on a mismatch."""
        with np.load(path, allow_pickle=False) as data:
            #% solution hint="For each named parameter check the key and shape (ValueError naming both) and copy into p.data[...]; regroup opt/<i>/<key> into a state list; rebuild hyperparameters (0-d -> .item(), else tuple); optimizer.load_state_dict; restore history (lists), epoch and the schedule count."
            for name, p in self.model.named_parameters():
                key = f"param/{name}"
                if key not in data or data[key].shape != p.shape:
                    got = data[key].shape if key in data else "nothing"
                    raise ValueError(f"checkpoint {path}: parameter {name} should have shape {p.shape}, found {got}")
                p.data[...] = data[key]
            state: list[dict] = [{} for _ in self.optimizer.params]
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
            if self.scheduler is not None and int(data["meta/schedule_count"]) >= 0:
                self.scheduler.count = int(data["meta/schedule_count"])
            #% endsolution

    def __repr__(self) -> str:
        return (f"Trainer(model={type(self.model).__name__}, optimizer={self.optimizer!r}, "
                f"loss_fn={self.loss_fn!r}, scheduler={self.scheduler!r}, epoch={self.epoch})")
