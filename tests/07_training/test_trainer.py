"""Module 07: Trainer epochs, evaluation, history and .npz checkpoints."""

import numpy as np
import pytest

from tinytorch.core.layers import Linear
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import Trainer


def _batches(rng, n_batches=4, batch=16):
    """Two separable classes: the label is whether the first feature is positive."""
    out = []
    for _ in range(n_batches):
        x = rng.standard_normal((batch, 3)).astype(np.float32)
        out.append((Tensor(x), Tensor((x[:, 0] > 0).astype(np.int64))))
    return out


def _trainer(rng, lr=0.5, optimizer=SGD, **kwargs):
    model = Linear(3, 2, rng=rng)
    return Trainer(model, optimizer(model.parameters(), lr=lr), CrossEntropyLoss(), **kwargs)


def test_training_lowers_the_loss(rng):
    trainer, data = _trainer(rng), _batches(rng)
    first = trainer.train_epoch(data)
    for _ in range(5):
        last = trainer.train_epoch(data)
    assert last < first


def test_train_epoch_returns_the_mean_batch_loss(rng):
    trainer, data = _trainer(rng, lr=0.0), _batches(rng)
    expected = np.mean([CrossEntropyLoss()(trainer.model(x), y).item() for x, y in data])
    assert trainer.train_epoch(data) == pytest.approx(expected, rel=1e-5)


def test_evaluate_reports_accuracy():
    model = Linear(2, 2)
    model.weight.data = np.eye(2, dtype=np.float32)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
    x = Tensor(np.array([[1, 0], [0, 1], [1, 0]], dtype=np.float32))
    _, accuracy = trainer.evaluate([(x, Tensor(np.array([0, 1, 1])))])
    assert accuracy == pytest.approx(2 / 3)


def test_evaluate_does_not_change_the_weights(rng):
    trainer, data = _trainer(rng), _batches(rng)
    before = trainer.model.weight.data.copy()
    trainer.evaluate(data)
    np.testing.assert_array_equal(trainer.model.weight.data, before)
    assert trainer.model.weight.grad is None


def test_fit_fills_the_history(rng):
    trainer, data = _trainer(rng), _batches(rng)
    history = trainer.fit(data, epochs=3, val_loader=data, progress=False)
    assert len(history["train_loss"]) == 3 and len(history["eval_loss"]) == 3
    assert len(history["eval_accuracy"]) == 3 and len(history["learning_rates"]) == 3


def test_checkpoint_round_trip_restores_the_weights(rng, tmp_path):
    trainer, data = _trainer(rng, lr=0.01, optimizer=Adam), _batches(rng)
    trainer.train_epoch(data)
    path = trainer.save_checkpoint(tmp_path / "ckpt.npz")
    other = _trainer(np.random.default_rng(99), lr=0.01, optimizer=Adam)
    other.load_checkpoint(path)
    np.testing.assert_array_equal(other.model.weight.data, trainer.model.weight.data)
    np.testing.assert_array_equal(other.model.bias.data, trainer.model.bias.data)


def test_checkpoint_is_plain_arrays(rng, tmp_path):
    trainer = _trainer(rng)
    path = trainer.save_checkpoint(tmp_path / "ckpt.npz")
    with np.load(path, allow_pickle=False) as data:
        assert "param/weight" in data.files
