"""Module 08 (hidden): reshuffling, reproducibility, drop_last, the fast path and generic datasets."""

import numpy as np
import pytest

from tinytorch.core.dataloader import DataLoader, Dataset, TensorDataset, collate
from tinytorch.core.tensor import Tensor


def _dataset(n=20):
    return TensorDataset(Tensor(np.arange(n, dtype=np.float32)[:, None]), Tensor(np.arange(n)))


def _epoch(loader):
    return np.concatenate([y.data for _, y in loader]).tolist()


class Squares(Dataset):
    """A plain Dataset: sample i is (float32 vector [i, i*i], int label i % 3)."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return Tensor(np.array([i, i * i], dtype=np.float32)), i % 3


def test_each_epoch_draws_a_new_permutation():
    loader = DataLoader(_dataset(), batch_size=5, shuffle=True, seed=0)
    assert _epoch(loader) != _epoch(loader)


def test_the_sequence_of_epochs_is_reproducible_from_the_seed():
    a = DataLoader(_dataset(), batch_size=5, shuffle=True, seed=3)
    b = DataLoader(_dataset(), batch_size=5, shuffle=True, seed=3)
    assert [_epoch(a) for _ in range(3)] == [_epoch(b) for _ in range(3)]


def test_different_seeds_give_different_orders():
    a = DataLoader(_dataset(), batch_size=5, shuffle=True, seed=1)
    b = DataLoader(_dataset(), batch_size=5, shuffle=True, seed=2)
    assert _epoch(a) != _epoch(b)


def test_drop_last_yields_only_full_batches():
    sizes = [len(y.data) for _, y in DataLoader(_dataset(10), batch_size=4, drop_last=True)]
    assert sizes == [4, 4]


def test_drop_last_with_shuffle_keeps_full_batches_of_distinct_samples():
    batches = [y.data for _, y in DataLoader(_dataset(10), batch_size=3, shuffle=True, drop_last=True, seed=0)]
    assert [len(b) for b in batches] == [3, 3, 3]
    assert len(set(np.concatenate(batches).tolist())) == 9


def test_length_matches_the_batches_yielded():
    for n, bs, drop in [(10, 3, False), (10, 3, True), (9, 3, False), (9, 3, True), (2, 5, False), (2, 5, True)]:
        loader = DataLoader(_dataset(n), batch_size=bs, drop_last=drop)
        assert len(loader) == len(list(loader)), (n, bs, drop)


def test_batch_larger_than_dataset_gives_one_batch():
    (x, y), = list(DataLoader(_dataset(3), batch_size=10))
    assert x.shape == (3, 1)


def test_tensor_dataset_batches_do_not_call_getitem(monkeypatch):
    def refuse(self, index):
        raise AssertionError("the TensorDataset path must gather whole batches, not call __getitem__")

    monkeypatch.setattr(TensorDataset, "__getitem__", refuse)
    x, y = next(iter(DataLoader(_dataset(), batch_size=4, shuffle=True, seed=0)))
    np.testing.assert_array_equal(x.data[:, 0], y.data)


def test_batches_keep_dtypes():
    x, y = next(iter(DataLoader(_dataset(), batch_size=4)))
    assert x.dtype == np.float32 and y.dtype == np.int64


def test_generic_dataset_is_collated():
    x, y = next(iter(DataLoader(Squares(), batch_size=4)))
    np.testing.assert_array_equal(x.data, [[0, 0], [1, 1], [2, 4], [3, 9]])
    assert x.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y.data, [0, 1, 2, 0])


def test_generic_dataset_shuffles_too():
    loader = DataLoader(Squares(), batch_size=7, shuffle=True, seed=0)
    x, _ = next(iter(loader))
    assert sorted(x.data[:, 0].tolist()) == list(range(7))


def test_dataset_base_class_is_abstract():
    with pytest.raises(TypeError):
        Dataset()
    assert len(Squares()) == 7 and DataLoader(Squares(), batch_size=2).__len__() == 4


def test_tensor_dataset_accepts_arrays():
    ds = TensorDataset(np.zeros((3, 2), dtype=np.float32), np.arange(3))
    x, y = ds[2]
    assert isinstance(x, Tensor) and int(y.data) == 2


def test_tensor_dataset_needs_at_least_one_tensor():
    with pytest.raises(ValueError):
        TensorDataset()


def test_loading_does_not_modify_the_dataset():
    ds = _dataset()
    before = ds.tensors[0].data.copy()
    for x, _ in DataLoader(ds, batch_size=4, transform=lambda t: Tensor(t.data * 0)):
        pass
    np.testing.assert_array_equal(ds.tensors[0].data, before)


def test_batch_size_one_is_accepted():
    loader = DataLoader(_dataset(3), batch_size=1)
    assert len(loader) == 3 and [x.shape for x, _ in loader] == [(1, 1)] * 3


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True, "4", np.float64(2.0)], ids=repr)
def test_every_kind_of_bad_batch_size_is_refused(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_dataset(), batch_size=batch_size)


def test_a_batch_of_one_generic_sample_is_collated():
    x, y = collate([(Tensor(np.array([1.0, 2.0], dtype=np.float32)), 2)])
    assert x.shape == (1, 2) and y.data.tolist() == [2]
