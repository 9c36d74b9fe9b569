"""Module 07 (hidden): checkpoints restore everything bit for bit, without pickle."""

import numpy as np
import pytest
from tinytorch_grader.testkit import object_id

from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.activations import ReLU
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import CosineSchedule, Trainer


def _data(seed=0, n_batches=3):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_batches):
        x = rng.standard_normal((8, 4)).astype(np.float32)
        out.append((Tensor(x), Tensor((x.sum(axis=1) > 0).astype(np.int64))))
    return out


def _trainer(seed, optimizer="adam", scheduler=False):
    rng = np.random.default_rng(seed)
    model = Sequential(Linear(4, 5, rng=rng), ReLU(), Linear(5, 2, rng=rng))
    opt = Adam(model.parameters(), lr=0.01) if optimizer == "adam" else SGD(model.parameters(), lr=0.1, momentum=0.9)
    schedule = CosineSchedule(0.01, 0.001, 10, optimizer=opt) if scheduler else None
    return Trainer(model, opt, CrossEntropyLoss(), scheduler=schedule)


def _trained(tmp_path, **kwargs):
    trainer = _trainer(0, **kwargs)
    trainer.fit(_data(), epochs=2, val_loader=_data(1), progress=False)
    return trainer, trainer.save_checkpoint(tmp_path / "ckpt.npz")


def test_every_parameter_is_restored_exactly(tmp_path):
    trainer, path = _trained(tmp_path)
    other = _trainer(7)
    other.load_checkpoint(path)
    for (name, a), (_, b) in zip(trainer.model.named_parameters(), other.model.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)
        assert b.data.dtype == np.float32


def test_loading_keeps_the_parameter_objects(tmp_path):
    _, path = _trained(tmp_path)
    other = _trainer(7)
    ids = [object_id(p, "data") for p in other.optimizer.params]
    other.load_checkpoint(path)
    assert [object_id(p, "data") for p in other.model.parameters()] == ids


def test_adam_moments_and_step_count_are_restored(tmp_path):
    trainer, path = _trained(tmp_path)
    other = _trainer(7)
    other.load_checkpoint(path)
    assert other.optimizer.step_count == trainer.optimizer.step_count
    for a, b in zip(trainer.optimizer.state, other.optimizer.state):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


def test_history_and_epoch_are_restored(tmp_path):
    trainer, path = _trained(tmp_path)
    other = _trainer(7)
    other.load_checkpoint(path)
    assert other.history == trainer.history and other.epoch == 2


def test_resumed_training_matches_uninterrupted_training(tmp_path):
    trainer, path = _trained(tmp_path, optimizer="sgd", scheduler=True)
    other = _trainer(7, optimizer="sgd", scheduler=True)
    other.load_checkpoint(path)
    trainer.train_epoch(_data(2))
    other.train_epoch(_data(2))
    for a, b in zip(trainer.model.parameters(), other.model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    assert other.optimizer.lr == trainer.optimizer.lr


def test_checkpoint_loads_without_pickle(tmp_path):
    _, path = _trained(tmp_path)
    with np.load(path, allow_pickle=False) as data:
        assert all(data[key].dtype != object for key in data.files)


def test_checkpoint_names_parameters(tmp_path):
    trainer, path = _trained(tmp_path)
    with np.load(path, allow_pickle=False) as data:
        names = {key.split("/", 1)[1] for key in data.files if key.startswith("param/")}
    assert names == {name for name, _ in trainer.model.named_parameters()}


def test_save_adds_the_npz_suffix(tmp_path):
    trainer = _trainer(0)
    path = trainer.save_checkpoint(tmp_path / "model")
    assert path.name == "model.npz" and path.exists()


def test_loading_into_a_different_architecture_names_the_parameter(tmp_path):
    _, path = _trained(tmp_path)
    model = Sequential(Linear(4, 3), ReLU(), Linear(3, 2))
    other = Trainer(model, Adam(model.parameters(), lr=0.01), CrossEntropyLoss())
    with pytest.raises(ValueError, match=r"layers\.0\.weight|\(4, 3\)"):
        other.load_checkpoint(path)


def test_saving_does_not_disturb_training(tmp_path):
    a, b = _trainer(0), _trainer(0)
    a.train_epoch(_data())
    b.train_epoch(_data())
    a.save_checkpoint(tmp_path / "x.npz")
    a.train_epoch(_data(3))
    b.train_epoch(_data(3))
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_a_schedule_that_never_stepped_is_restored_at_zero(tmp_path):
    fresh = _trainer(0, scheduler=True)
    path = fresh.save_checkpoint(tmp_path / "start.npz")
    other = _trainer(7, scheduler=True)
    other.scheduler.count = 5
    other.load_checkpoint(path)
    assert other.scheduler.count == 0


def test_a_checkpoint_without_a_schedule_leaves_the_scheduler_alone(tmp_path):
    _, path = _trained(tmp_path)
    other = _trainer(7, scheduler=True)
    other.scheduler.count = 3
    other.load_checkpoint(path)
    assert other.scheduler.count == 3


def test_loading_into_a_model_with_an_extra_parameter_names_it(tmp_path):
    _, path = _trained(tmp_path)
    model = Sequential(Linear(4, 5), ReLU(), Linear(5, 2), ReLU(), Linear(2, 2))
    other = Trainer(model, Adam(model.parameters(), lr=0.01), CrossEntropyLoss())
    with pytest.raises(ValueError, match=r"layers\.4\.weight"):
        other.load_checkpoint(path)


def test_a_checkpoint_without_a_scheduler_stores_schedule_count_minus_one(tmp_path):
    """The documented sentinel is -1 (a reader of the .npz checks for it), not any negative number."""
    trainer, path = _trained(tmp_path)
    with np.load(path, allow_pickle=False) as data:
        assert int(data["meta/schedule_count"]) == -1
