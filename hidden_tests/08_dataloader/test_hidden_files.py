"""Module 08 (hidden): IDX header validation, corrupted files, checksummed downloads, root resolution."""

import gzip
import hashlib
import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from tinytorch.core import dataloader
from tinytorch.core.dataloader import data_root, load_cifar10, load_digits, load_mnist, read_cifar_batch, read_idx


def _idx(array: np.ndarray, type_byte=0x08, dtype=">u1", compress=True) -> bytes:
    header = bytes([0, 0, type_byte, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    raw = header + array.astype(dtype).tobytes()
    return gzip.compress(raw) if compress else raw


def _mnist_files(n=3):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    return {"t10k-images-idx3-ubyte.gz": _idx(images), "t10k-labels-idx1-ubyte.gz": _idx(labels)}


def test_read_idx_accepts_uncompressed_files():
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    np.testing.assert_array_equal(read_idx(_idx(array, compress=False)), array)


def test_read_idx_reads_big_endian_int32():
    array = np.array([1, 256, -5, 70000], dtype=np.int32)
    np.testing.assert_array_equal(read_idx(_idx(array, type_byte=0x0C, dtype=">i4")), array)


def test_read_idx_reads_a_path(tmp_path):
    (tmp_path / "a.gz").write_bytes(_idx(np.arange(4, dtype=np.uint8)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), [0, 1, 2, 3])


def test_read_idx_rejects_a_bad_magic_number():
    data = b"\x12\x34\x08\x01" + np.array([2], ">u4").tobytes() + b"\x00\x01"
    with pytest.raises(ValueError, match="IDX"):
        read_idx(data)


def test_read_idx_rejects_an_unknown_type_byte():
    data = b"\x00\x00\x07\x01" + np.array([2], ">u4").tobytes() + b"\x00\x01"
    with pytest.raises(ValueError):
        read_idx(data)


def test_read_idx_rejects_a_truncated_payload():
    data = _idx(np.zeros((3, 4), dtype=np.uint8), compress=False)[:-1]
    with pytest.raises(ValueError, match=r"\(3, 4\)"):
        read_idx(data)


def test_read_idx_rejects_trailing_bytes():
    data = _idx(np.zeros((3, 4), dtype=np.uint8), compress=False) + b"\x00"
    with pytest.raises(ValueError):
        read_idx(data)


def test_read_idx_rejects_a_truncated_header():
    with pytest.raises(ValueError):
        read_idx(b"\x00\x00\x08\x03\x00\x00")


def test_mnist_with_mismatched_counts_is_refused(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(_idx(np.zeros((3, 28, 28), dtype=np.uint8)))
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(_idx(np.zeros(2, dtype=np.uint8)))
    with pytest.raises(ValueError, match="MNIST"):
        load_mnist(tmp_path, train=False, download=False)


def test_cifar_batch_without_labels_is_refused():
    with pytest.raises(ValueError, match="labels"):
        read_cifar_batch(pickle.dumps({b"data": np.zeros((2, 3072), dtype=np.uint8)}))


def test_cifar_batch_with_the_wrong_row_length_is_refused():
    with pytest.raises(ValueError, match="3072"):
        read_cifar_batch(pickle.dumps({b"data": np.zeros((2, 100), dtype=np.uint8), b"labels": [0, 1]}))


def test_cifar_batch_rows_are_channel_planar():
    row = np.concatenate([np.full(1024, 1), np.full(1024, 2), np.full(1024, 3)]).astype(np.uint8)
    images, labels = read_cifar_batch(pickle.dumps({b"data": row[None], b"labels": [7]}))
    assert images.shape == (1, 3, 32, 32)
    np.testing.assert_array_equal(images[0, :, 0, 0], [1, 2, 3])
    assert labels.dtype == np.int64 and labels.tolist() == [7]


def test_cifar_batch_that_imports_code_is_refused():
    class Evil:
        def __reduce__(self):
            return (os.getcwd, ())

    with pytest.raises(ValueError):
        read_cifar_batch(pickle.dumps({b"data": Evil(), b"labels": []}))


def test_corrupted_cifar_archive_is_a_clear_error(tmp_path):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"\x1f\x8b not really a tar")
    with pytest.raises(ValueError, match="cifar-10-python.tar.gz"):
        load_cifar10(tmp_path, train=False, download=False)


def test_missing_cifar_names_the_batches_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_cifar10(tmp_path, train=False, download=False)
    message = str(info.value)
    assert "test_batch" in message and "cifar-10-python.tar.gz" in message and str(tmp_path) in message
    assert "build_cifar10.py" in message


def test_checksum_mismatch_raises_and_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(dataloader, "_open_url", lambda url: io.BytesIO(b"corrupted bytes"))
    with pytest.raises(ValueError, match="checksum"):
        dataloader.download("https://example.invalid/x.gz", tmp_path / "x.gz", "0" * 32)
    assert list(tmp_path.iterdir()) == []


def test_download_streams_in_chunks(tmp_path, monkeypatch):
    payload = bytes(range(256)) * 40
    monkeypatch.setattr(dataloader, "_open_url", lambda url: io.BytesIO(payload))
    path = dataloader.download("https://example.invalid/x", tmp_path / "sub" / "x", hashlib.md5(payload).hexdigest(),
                               chunk_size=100)
    assert path.read_bytes() == payload
    assert sorted(p.name for p in path.parent.iterdir()) == ["x"]


def test_load_mnist_downloads_missing_files_from_the_mirror(tmp_path, monkeypatch):
    files = _mnist_files()
    requested = []

    def fake_open(url):
        requested.append(url)
        return io.BytesIO(files[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(dataloader, "_open_url", fake_open)
    checksums = dict(dataloader.MNIST_MD5)
    checksums.update({name: hashlib.md5(blob).hexdigest() for name, blob in files.items()})
    monkeypatch.setattr(dataloader, "MNIST_MD5", checksums)
    x, y = load_mnist(tmp_path, train=False, download=True)
    assert x.shape == (3, 1, 28, 28)
    assert sorted(requested) == sorted(dataloader.MNIST_URL + name for name in files)
    assert (tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz").exists()


def test_offline_download_becomes_a_file_not_found_error(tmp_path, monkeypatch):
    def offline(url):
        raise ConnectionError("no network")  # an OSError, as urlopen's URLError is

    monkeypatch.setattr(dataloader, "_open_url", offline)
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte.gz"):
        load_mnist(tmp_path, train=False, download=True)


def test_explicit_root_beats_the_environment(tmp_path, student_env):
    student_env.setenv("TINYTORCH_DATA", str(tmp_path / "env"))
    assert data_root(tmp_path / "arg") == tmp_path / "arg"


def test_environment_beats_the_home_default(tmp_path, student_env):
    student_env.setenv("TINYTORCH_DATA", str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"


def test_default_root_is_under_home(tmp_path, student_env):
    student_env.delenv("TINYTORCH_DATA", raising=False)
    student_env.setenv("HOME", str(tmp_path))
    assert data_root() == Path(tmp_path) / ".tinytorch" / "data"


def test_digits_with_the_wrong_column_count_is_refused(tmp_path):
    with gzip.open(tmp_path / "digits.csv.gz", "wt") as f:
        f.write("1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match="65"):
        load_digits(tmp_path)


def test_missing_digits_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="digits.csv.gz"):
        load_digits(tmp_path)


def test_read_idx_accepts_an_empty_array():
    """A zero-length dimension: the file is the header alone, and that is valid."""
    empty = read_idx(_idx(np.zeros(0, dtype=np.uint8), compress=False))
    assert empty.shape == (0,) and empty.dtype == np.uint8


def test_a_failed_connection_reaches_the_caller_unchanged(tmp_path, monkeypatch):
    """No .part file exists yet when the connection fails: cleaning up must not hide the real error."""
    def offline(url):
        raise ConnectionError("no network")  # an OSError, as urlopen's URLError is

    monkeypatch.setattr(dataloader, "_open_url", offline)
    with pytest.raises(ConnectionError):
        dataloader.download("https://example.invalid/x.gz", tmp_path / "x.gz", "0" * 32)
    assert list(tmp_path.iterdir()) == []


def test_cifar_batch_that_is_not_a_dict_is_refused():
    with pytest.raises(ValueError, match="list"):
        read_cifar_batch(pickle.dumps(["images", 3]))


@pytest.mark.parametrize("head", [b"\x01\x00\x08\x01", b"\x00\x01\x08\x01", b"\x00\x00\x07\x01"],
                         ids=["first-byte", "second-byte", "type-byte"])
def test_read_idx_checks_each_magic_byte_on_its_own(head):
    with pytest.raises(ValueError, match="IDX"):
        read_idx(head + np.array([2], ">u4").tobytes() + b"\x00\x01")


def test_cifar_batch_without_data_is_refused():
    with pytest.raises(ValueError, match="data"):
        read_cifar_batch(pickle.dumps({b"labels": [0, 1]}))


def test_a_four_byte_header_is_reported_as_truncated_not_as_bad_magic():
    """Valid magic bytes announcing one dimension, then nothing: the error must name the truncation."""
    with pytest.raises(ValueError, match="truncated"):
        read_idx(b"\x00\x00\x08\x01")
