"""Module 07 (hidden): eval mode and no_grad, accumulation, clipping and schedules inside the Trainer."""

import io

import numpy as np
import pytest

from tinytorch.core import training
from tinytorch.core.layers import Layer, Linear
from tinytorch.core.losses import CrossEntropyLoss, MSELoss
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import CosineSchedule, OneCycleLR, Trainer


class Recorder(Layer):
    """Wraps a model and records the training flag and grad tracking of every forward.

    The lists are reassigned, never appended to: under the grader a test subclass's state lives in
    the student's object by value, so an ``append`` would change only a copy.
    """

    def __init__(self, inner):
        self.inner = inner
        self.modes = []
        self.tracked = []

    def forward(self, x):
        out = self.inner(x)
        self.modes = self.modes + [self.training]
        self.tracked = self.tracked + [out.requires_grad]
        return out


@pytest.fixture
def printed(monkeypatch):
    """What the Trainer's module prints to stdout, as one string (``printed.getvalue()``).

    ``print`` is replaced in that module's namespace, so the recorder sees the student's prints
    under the grader too, where the student's code runs in another process and ``capsys`` sees
    only this one. Output the code sends to a named file still goes there.
    """
    out = io.StringIO()

    def record(*values, sep=" ", end="\n", file=None, flush=False):
        print(*values, sep=sep, end=end, file=out if file is None else file, flush=flush)

    monkeypatch.setattr(training, "print", record, raising=False)
    return out


def _batches(rng, n_batches=3, batch=8):
    out = []
    for _ in range(n_batches):
        x = rng.standard_normal((batch, 3)).astype(np.float32)
        out.append((Tensor(x), Tensor((x[:, 1] > 0).astype(np.int64))))
    return out


def _regression(rng, batch=8):
    x = rng.standard_normal((batch, 3)).astype(np.float32)
    return Tensor(x), Tensor((x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)))


def test_evaluate_runs_in_eval_mode_without_a_graph(rng):
    model = Recorder(Linear(3, 2, rng=rng))
    Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss()).evaluate(_batches(rng))
    assert model.modes == [False] * 3 and model.tracked == [False] * 3


def test_evaluate_restores_training_mode(rng):
    model = Recorder(Linear(3, 2, rng=rng))
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
    trainer.evaluate(_batches(rng))
    assert model.training and model.inner.training


def test_train_epoch_runs_in_training_mode(rng):
    model = Recorder(Linear(3, 2, rng=rng))
    model.eval()
    Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss()).train_epoch(_batches(rng))
    assert model.modes == [True] * 3


def test_evaluate_weights_batches_by_size(rng):
    model = Linear(3, 2, rng=rng)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
    big, small = _batches(rng, 1, 6)[0], _batches(rng, 1, 2)[0]
    x = Tensor(np.concatenate([big[0].data, small[0].data]))
    y = Tensor(np.concatenate([big[1].data, small[1].data]))
    loss, _ = trainer.evaluate([big, small])
    assert loss == pytest.approx(CrossEntropyLoss()(model(x), y).item(), rel=1e-5)


def test_evaluate_accuracy_is_nan_for_regression(rng):
    model = Linear(3, 1, rng=rng)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), MSELoss())
    loss, accuracy = trainer.evaluate([_regression(rng)])
    assert loss > 0 and np.isnan(accuracy)


def test_gradients_are_cleared_between_steps(rng):
    """Two epochs with lr=0 then one real step must equal one real step: no stale gradient."""
    data = _batches(rng, 1)
    a, b = Linear(3, 2, rng=np.random.default_rng(5)), Linear(3, 2, rng=np.random.default_rng(5))
    ta = Trainer(a, SGD(a.parameters(), lr=0.0), CrossEntropyLoss())
    ta.train_epoch(data)
    ta.train_epoch(data)
    ta.optimizer.lr = 0.1
    ta.train_epoch(data)
    Trainer(b, SGD(b.parameters(), lr=0.1), CrossEntropyLoss()).train_epoch(data)
    np.testing.assert_allclose(a.weight.data, b.weight.data, rtol=1e-6)


def test_accumulating_two_half_batches_equals_one_full_batch(rng):
    x, y = _regression(rng, batch=8)
    halves = [(Tensor(x.data[:4]), Tensor(y.data[:4])), (Tensor(x.data[4:]), Tensor(y.data[4:]))]
    a, b = Linear(3, 1, rng=np.random.default_rng(1)), Linear(3, 1, rng=np.random.default_rng(1))
    Trainer(a, SGD(a.parameters(), lr=0.1), MSELoss()).train_epoch(halves, accumulation_steps=2)
    Trainer(b, SGD(b.parameters(), lr=0.1), MSELoss()).train_epoch([(x, y)])
    np.testing.assert_allclose(a.weight.data, b.weight.data, rtol=1e-5, atol=1e-7)


def test_accumulation_takes_one_step_per_group(rng):
    model = Linear(3, 2, rng=rng)
    optimizer = SGD(model.parameters(), lr=0.1)
    Trainer(model, optimizer, CrossEntropyLoss()).train_epoch(_batches(rng, 5), accumulation_steps=2)
    assert optimizer.step_count == 3


def test_trainer_clips_before_the_step(rng):
    x, y = _regression(rng)
    y = Tensor(y.data * 1000)
    model = Linear(3, 1, rng=rng)
    before = [p.data.copy() for p in model.parameters()]
    Trainer(model, SGD(model.parameters(), lr=1.0), MSELoss(), grad_clip_norm=0.5).train_epoch([(x, y)])
    moved = np.sqrt(sum(((p.data - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    assert moved == pytest.approx(0.5, rel=1e-4)


def test_epoch_schedule_steps_once_per_epoch(rng):
    model = Linear(3, 2, rng=rng)
    optimizer = SGD(model.parameters(), lr=1.0)
    schedule = CosineSchedule(0.1, 0.0, 4, optimizer=optimizer)
    trainer = Trainer(model, optimizer, CrossEntropyLoss(), scheduler=schedule)
    trainer.fit(_batches(rng), epochs=2, progress=False)
    assert trainer.history["learning_rates"] == pytest.approx([0.1, schedule.get_lr(1)])
    assert optimizer.lr == pytest.approx(schedule.get_lr(2))


def test_step_schedule_steps_once_per_batch(rng):
    model = Linear(3, 2, rng=rng)
    optimizer = SGD(model.parameters(), lr=1.0)
    schedule = OneCycleLR(0.1, total_steps=6, optimizer=optimizer)
    trainer = Trainer(model, optimizer, CrossEntropyLoss(), scheduler=schedule, step_scheduler_per="step")
    trainer.train_epoch(_batches(rng, 3))
    assert schedule.count == 3 and optimizer.lr == pytest.approx(schedule.get_lr(3))


def test_progress_callback_gets_each_batch_loss(rng):
    model = Linear(3, 2, rng=rng)
    seen = []
    mean = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss()).train_epoch(
        _batches(rng, 4), progress=seen.append)
    assert len(seen) == 4 and mean == pytest.approx(np.mean(seen))


def test_fit_without_progress_prints_nothing(rng, printed, capsys):
    model = Linear(3, 2, rng=rng)
    Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss()).fit(_batches(rng), 2, progress=False)
    assert printed.getvalue() == "" and capsys.readouterr().out == ""


def test_fit_with_progress_prints_one_line_per_epoch_off_a_terminal(rng, printed):
    model = Linear(3, 2, rng=rng)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
    trainer.fit(_batches(rng), 2, val_loader=_batches(rng), progress=True)
    lines = printed.getvalue().strip().splitlines()
    assert len(lines) == 2 and "epoch 2" in lines[1]


def test_one_batch_epoch_takes_one_plain_sgd_step(rng):
    x, y = _regression(rng)
    a, b = Linear(3, 1, rng=np.random.default_rng(1)), Linear(3, 1, rng=np.random.default_rng(1))
    Trainer(a, SGD(a.parameters(), lr=0.1), MSELoss()).train_epoch([(x, y)])
    MSELoss()(b(x), y).backward()
    for p in b.parameters():
        p.data = p.data - 0.1 * p.grad.data
    np.testing.assert_allclose(a.weight.data, b.weight.data, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(a.bias.data, b.bias.data, rtol=1e-5, atol=1e-7)


def test_each_step_uses_only_its_own_batch_gradient(rng):
    """Two batches in one epoch: the second step must not carry the first batch's gradient."""
    data = _batches(rng, 2)
    a, b = Linear(3, 2, rng=np.random.default_rng(6)), Linear(3, 2, rng=np.random.default_rng(6))
    Trainer(a, SGD(a.parameters(), lr=0.1), CrossEntropyLoss()).train_epoch(data)
    for x, y in data:
        CrossEntropyLoss()(b(x), y).backward()
        for p in b.parameters():
            p.data = p.data - 0.1 * p.grad.data
            p.grad = None
    np.testing.assert_allclose(a.weight.data, b.weight.data, rtol=1e-5, atol=1e-7)
