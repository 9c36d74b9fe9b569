"""Module 08: reading MNIST (IDX), CIFAR-10 (pickled batches) and digits (CSV) from tiny self-made files."""

import gzip
import io
import pickle
import tarfile

import numpy as np
import pytest

from tinytorch.core import dataloader
from tinytorch.core.dataloader import load_cifar10, load_digits, load_mnist, read_idx


def _idx(array: np.ndarray) -> bytes:
    """Gzipped IDX bytes of a uint8 array: 0, 0, type 0x08, ndim, big-endian sizes, values."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def _write_mnist(folder, train=True, n=5):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    prefix = "train" if train else "t10k"
    (folder / "mnist").mkdir(parents=True, exist_ok=True)
    (folder / "mnist" / f"{prefix}-images-idx3-ubyte.gz").write_bytes(_idx(images))
    (folder / "mnist" / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(_idx(labels))
    return images, labels


def _cifar_batch(n, seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n).tolist()
    return {b"batch_label": b"test", b"data": data, b"labels": labels}


def test_read_idx_returns_the_declared_shape_and_values():
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(read_idx(_idx(array)), array)


def test_load_mnist_scales_to_unit_float32(tmp_path):
    images, labels = _write_mnist(tmp_path)
    x, y = load_mnist(tmp_path, train=True, download=False)
    assert x.shape == (5, 1, 28, 28) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0], images / 255.0, rtol=1e-6)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)


def test_load_mnist_reads_the_test_split(tmp_path):
    _write_mnist(tmp_path, train=False, n=3)
    x, _ = load_mnist(tmp_path, train=False, download=False)
    assert x.shape == (3, 1, 28, 28)


def test_missing_mnist_names_the_files_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path, download=False)
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message and str(tmp_path / "mnist") in message
    assert "TINYTORCH_DATA" in message


def test_root_comes_from_the_environment(tmp_path, student_env):
    _write_mnist(tmp_path, train=False, n=2)
    student_env.setenv("TINYTORCH_DATA", str(tmp_path))
    x, _ = load_mnist(train=False, download=False)
    assert x.shape[0] == 2


def test_load_cifar10_reads_the_unpacked_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batch = _cifar_batch(4, seed=0)
    (folder / "test_batch").write_bytes(pickle.dumps(batch))
    x, y = load_cifar10(tmp_path, train=False, download=False)
    assert x.shape == (4, 3, 32, 32) and x.dtype == np.float32
    np.testing.assert_allclose(x.reshape(4, 3072), batch[b"data"] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, batch[b"labels"])


def test_load_cifar10_reads_inside_the_archive(tmp_path):
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for i in range(1, 6):
            blob = pickle.dumps(_cifar_batch(2, seed=i))
            info = tarfile.TarInfo(f"cifar-10-batches-py/data_batch_{i}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    x, y = load_cifar10(tmp_path, train=True, download=False)
    assert x.shape == (10, 3, 32, 32) and y.shape == (10,) and y.dtype == np.int64


def test_load_digits_reads_the_csv(tmp_path):
    rows = np.zeros((3, 65), dtype=np.int64)
    rows[:, :64] = 16
    rows[:, 64] = [4, 5, 6]
    with gzip.open(tmp_path / "digits.csv.gz", "wt") as f:
        np.savetxt(f, rows, fmt="%d", delimiter=",")
    x, y = load_digits(tmp_path)
    assert x.shape == (3, 1, 8, 8) and x.dtype == np.float32
    np.testing.assert_allclose(x, 1.0)
    np.testing.assert_array_equal(y, [4, 5, 6])


def test_download_writes_the_file_when_the_checksum_matches(tmp_path, monkeypatch):
    payload = b"tiny dataset"
    monkeypatch.setattr(dataloader, "_open_url", lambda url: io.BytesIO(payload))
    import hashlib
    path = dataloader.download("https://example.invalid/f.gz", tmp_path / "f.gz", hashlib.md5(payload).hexdigest())
    assert path.read_bytes() == payload
