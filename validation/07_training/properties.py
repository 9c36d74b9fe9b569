"""Randomized properties that confirm module 07's equivalent marks (docs/DESIGN.md section 10)."""

import math
import tempfile
from pathlib import Path

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import CosineSchedule, OneCycleLR, Trainer, clip_grad_norm


def onecycle_rates(rng):
    """Every step's rate (past the end too) for random step counts and warm-up fractions, warm-up boundary included."""
    total = int(rng.integers(1, 60))
    pct = float(rng.choice([0.0, 0.25, 0.3, 0.5, rng.uniform(0, 0.99)]))
    schedule = OneCycleLR(float(rng.uniform(0.01, 1.0)), total, pct_start=pct,
                          div_factor=float(rng.choice([25.0, 10.0, rng.uniform(2, 50)])))
    steps = list(range(total + 3)) + [pct * total, math.floor(pct * total), math.ceil(pct * total)]
    return [schedule.get_lr(step) for step in steps]


def clipped_gradients(rng):
    """clip_grad_norm with max_norm below, above and exactly at the gradients' norm."""
    params = [Tensor(np.zeros(tuple(int(n) for n in rng.integers(1, 4, size=rng.integers(1, 3))), np.float32),
                     requires_grad=True) for _ in range(int(rng.integers(1, 4)))]
    for p in params:
        p.grad = Tensor((rng.standard_normal(p.shape) * rng.choice([1e-3, 1.0, 100.0])).astype(np.float32))
    norm = math.sqrt(sum(float(np.square(p.grad.data, dtype=np.float64).sum()) for p in params))
    max_norm = float(rng.choice([norm, norm * 0.5, norm * 2.0, norm * (1 + 1e-12)]))
    returned = clip_grad_norm(params, max_norm)
    return returned, [p.grad.data for p in params]


def _trainer(seed, optimizer, scheduler):
    rng = np.random.default_rng(seed)
    model = Sequential(Linear(4, 5, rng=rng), ReLU(), Linear(5, 3, rng=rng))
    opt = Adam(model.parameters(), lr=0.01) if optimizer == "adam" else SGD(model.parameters(), lr=0.1, momentum=0.9)
    schedule = CosineSchedule(0.01, 0.001, 10, optimizer=opt) if scheduler else None
    return Trainer(model, opt, CrossEntropyLoss(), scheduler=schedule)


def checkpoint_round_trip(rng):
    """Train, save, load into a differently seeded trainer: parameters, optimizer state, hyperparameters, history, epoch."""
    optimizer = str(rng.choice(["adam", "sgd"]))
    scheduler = bool(rng.integers(0, 2))
    batches = []
    for _ in range(int(rng.integers(1, 4))):
        x = rng.standard_normal((6, 4)).astype(np.float32)
        batches.append((Tensor(x), Tensor(rng.integers(0, 3, 6))))
    trainer = _trainer(int(rng.integers(100)), optimizer, scheduler)
    trainer.fit(batches, epochs=int(rng.integers(1, 3)), val_loader=batches[:1], progress=False)
    with tempfile.TemporaryDirectory() as folder:
        path = trainer.save_checkpoint(Path(folder) / "ckpt.npz")
        other = _trainer(int(rng.integers(100, 200)), optimizer, scheduler)
        other.load_checkpoint(path)
    state = other.optimizer.state_dict()
    return ([p.data for p in other.model.parameters()],
            [{key: np.asarray(value) for key, value in entry.items()} for entry in state["state"]],
            state["step_count"], other.optimizer.hyperparameters(), other.history, other.epoch,
            other.scheduler.count if other.scheduler is not None else None)
