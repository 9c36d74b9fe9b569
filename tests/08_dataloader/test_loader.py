"""Module 08: Dataset, TensorDataset, collate and DataLoader batching."""

import numpy as np
import pytest

from tinytorch.core.dataloader import DataLoader, Dataset, TensorDataset, collate
from tinytorch.core.tensor import Tensor


def _dataset(n=10):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    return TensorDataset(Tensor(x), Tensor(np.arange(n)))


class Halves(Dataset):
    """The smallest Dataset: sample i is (i / 2 as float32, i)."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return np.float32(i / 2), i


def test_a_dataset_subclass_batches_through_the_loader():
    x, y = next(iter(DataLoader(Halves(), batch_size=5)))
    np.testing.assert_array_equal(x.data, [0.0, 0.5, 1.0, 1.5, 2.0])
    np.testing.assert_array_equal(y.data, [0, 1, 2, 3, 4])


def test_tensor_dataset_length_and_item():
    ds = _dataset()
    x, y = ds[3]
    assert len(ds) == 10
    np.testing.assert_array_equal(x.data, [6.0, 7.0])
    assert int(y.data) == 3


def test_tensor_dataset_rejects_different_first_dimensions():
    with pytest.raises(ValueError, match=r"\(4, 2\).*\(3,\)"):
        TensorDataset(Tensor(np.zeros((4, 2), dtype=np.float32)), Tensor(np.zeros(3, dtype=np.int64)))


def test_collate_stacks_fields_of_tuples():
    x, y = collate([(Tensor([1.0, 2.0]), 0), (Tensor([3.0, 4.0]), 1)])
    assert x.shape == (2, 2) and x.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y.data, [0, 1])


def test_loader_yields_batches_in_order_without_shuffle():
    batches = list(DataLoader(_dataset(), batch_size=4))
    assert [len(y.data) for _, y in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([y.data for _, y in batches]), np.arange(10))


def test_loader_length_counts_the_partial_batch():
    assert len(DataLoader(_dataset(), batch_size=4)) == 3


def test_loader_length_with_drop_last():
    assert len(DataLoader(_dataset(), batch_size=4, drop_last=True)) == 2


def test_shuffle_is_a_permutation_of_the_dataset():
    loader = DataLoader(_dataset(), batch_size=3, shuffle=True, seed=0)
    labels = np.concatenate([y.data for _, y in loader])
    assert sorted(labels.tolist()) == list(range(10))
    assert labels.tolist() != list(range(10))


def test_same_seed_gives_the_same_order():
    a = [y.data.tolist() for _, y in DataLoader(_dataset(), batch_size=3, shuffle=True, seed=7)]
    b = [y.data.tolist() for _, y in DataLoader(_dataset(), batch_size=3, shuffle=True, seed=7)]
    assert a == b


def test_batches_keep_inputs_and_labels_aligned_when_shuffled():
    for x, y in DataLoader(_dataset(), batch_size=4, shuffle=True, seed=1):
        np.testing.assert_array_equal(x.data[:, 0], 2 * y.data)


def test_loader_applies_the_transform_to_inputs_only():
    loader = DataLoader(_dataset(4), batch_size=4, transform=lambda x: Tensor(x.data * 10))
    x, y = next(iter(loader))
    np.testing.assert_array_equal(x.data[:, 0], [0, 20, 40, 60])
    np.testing.assert_array_equal(y.data, [0, 1, 2, 3])


def test_loader_rejects_a_zero_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_dataset(), batch_size=0)
