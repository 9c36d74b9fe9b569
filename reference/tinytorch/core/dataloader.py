"""Module 08: datasets, batching, batch augmentations and loaders for MNIST, CIFAR-10 and digits.

A ``Dataset`` answers two questions, how many samples and which sample is number i; a
``DataLoader`` turns it into an iterator of batches, reshuffled every epoch. Augmentations
work on a whole NCHW batch at once, never image by image.

Systems point: the input pipeline must keep up with the model. Gathering a batch of a
``TensorDataset`` with one fancy index (``images[idx]``) is one memcpy-like NumPy call;
fetching the same B samples one by one costs B Python calls, B small Tensors and a stack,
which for small models can take longer than the forward pass itself.

Dataset files are read in their official formats (IDX for MNIST, pickled batches for
CIFAR-10). Root folder: the ``root`` argument, else ``$TINYTORCH_DATA``, else
``~/.tinytorch/data``. Downloads are verified against published md5 checksums and written
atomically (a ``.part`` file renamed at the end), so a broken download never looks complete.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import tarfile
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from tinytorch.core.tensor import Tensor

# ---------------------------------------------------------------- datasets


class Dataset(ABC):
    """Anything with a length and integer indexing; subclasses return one sample per index."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of samples."""

    @abstractmethod
    def __getitem__(self, index: int):
        """Sample number ``index`` (a Tensor or a tuple of Tensors)."""


class TensorDataset(Dataset):
    """Samples are rows of tensors that share their first dimension: ``(x[i], y[i])``.

    Args:
        *tensors: Tensors (or arrays) of shapes (N, ...), e.g. images (N, C, H, W) float32
            and labels (N,) int64.

    Example:
        >>> ds = TensorDataset(Tensor(np.zeros((4, 2), dtype=np.float32)), Tensor([0, 1, 0, 1]))
        >>> len(ds), ds[1][0].shape
        (4, (2,))
    """

    def __init__(self, *tensors):
        tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        #% solution hint="Raise ValueError if no tensors are given, if one is 0-d, or if the first dimensions differ (list every shape in the message)."
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        shapes = [t.shape for t in tensors]
        if any(len(s) == 0 for s in shapes) or len({s[0] for s in shapes}) != 1:
            raise ValueError(f"TensorDataset needs tensors with the same first dimension, got shapes {shapes}")
        #% endsolution
        self.tensors = tensors

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        """Row ``index`` of every tensor, as a tuple of Tensors."""
        #% solution hint="Index the .data of every tensor and wrap each row in a Tensor; return a tuple."
        return tuple(Tensor(t.data[index]) for t in self.tensors)
        #% endsolution

    def __repr__(self) -> str:
        return f"TensorDataset({', '.join(str(t.shape) for t in self.tensors)})"


def collate(samples: list) -> tuple[Tensor, ...] | Tensor:
    """Stack a list of samples into one batch: field k of every sample -> one (B, ...) Tensor.

    Samples are tuples of Tensors/arrays/numbers (or single ones). Python ints stack into
    int64, floats into float32, arrays keep their dtype.
    """
    #% solution hint="For tuples, zip(*samples) groups field k of every sample; np.stack the .data of each group (np.asarray for plain numbers) and wrap in Tensor."
    def stack(items) -> Tensor:
        return Tensor(np.stack([item.data if isinstance(item, Tensor) else Tensor(item).data for item in items]))

    if isinstance(samples[0], (tuple, list)):
        return tuple(stack(field) for field in zip(*samples))
    return stack(samples)
    #% endsolution


class DataLoader:
    """Iterate over a dataset in batches, optionally shuffled and transformed.

    Args:
        dataset: a Dataset (a TensorDataset takes the fast path: one fancy index per tensor
            per batch instead of B ``__getitem__`` calls).
        batch_size: samples per batch (the last batch is smaller unless ``drop_last``).
        shuffle: draw a new permutation at the start of every epoch.
        drop_last: skip the final incomplete batch (keeps batch statistics comparable).
        seed: seeds the loader's own generator, so the sequence of epochs is reproducible.
        transform: applied to the first field of each batch (the inputs), e.g. an
            augmentation over an NCHW float32 array.

    Example:
        >>> ds = TensorDataset(np.arange(10, dtype=np.float32), np.arange(10))
        >>> [len(x) for x, y in DataLoader(ds, batch_size=4)]
        [4, 4, 2]
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 seed: int | None = None, transform=None):
        #% solution hint="Refuse (ValueError) a batch_size that is not a positive integer (bools are not batch sizes)."
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        #% endsolution
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.transform = transform
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        """Number of batches per epoch."""
        #% solution hint="N // batch_size with drop_last, else the ceiling of N / batch_size (integer arithmetic only)."
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        #% endsolution

    def batch_indices(self) -> list[np.ndarray]:
        """One epoch of index arrays, one per batch (a fresh permutation when shuffling).

        Each call with ``shuffle=True`` draws from the loader's generator, so epoch 2 differs
        from epoch 1, yet two loaders built with the same seed agree epoch by epoch.
        """
        #% solution hint="order = self.rng.permutation(n) if shuffle else np.arange(n); slice it in steps of batch_size, stopping early with drop_last."
        n = len(self.dataset)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        stop = n - n % self.batch_size if self.drop_last else n
        return [order[start:start + self.batch_size] for start in range(0, stop, self.batch_size)]
        #% endsolution

    def fetch(self, indices: np.ndarray):
        """The batch of samples ``indices``: one gather per tensor for a TensorDataset, else collate."""
        #% solution hint="For a TensorDataset index every t.data with the whole index array at once; otherwise collate([dataset[i] for i in indices])."
        if isinstance(self.dataset, TensorDataset):
            return tuple(Tensor(t.data[indices]) for t in self.dataset.tensors)
        return collate([self.dataset[int(i)] for i in indices])
        #% endsolution

    def __iter__(self):
        for indices in self.batch_indices():
            batch = self.fetch(indices)
            if self.transform is not None:
                if isinstance(batch, tuple):
                    batch = (self.transform(batch[0]), *batch[1:])
                else:
                    batch = self.transform(batch)
            yield batch

    def __repr__(self) -> str:
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last})")


# ---------------------------------------------------------------- batch transforms


def _batch_array(x) -> tuple[np.ndarray, bool, bool]:
    """(NCHW array, was it a Tensor, was it a single CHW image)."""
    is_tensor = isinstance(x, Tensor)
    array = x.data if is_tensor else np.asarray(x)
    if array.ndim not in (3, 4):
        raise ValueError(f"expected an image batch (N, C, H, W) or one image (C, H, W), got shape {array.shape}")
    single = array.ndim == 3
    return (array[None] if single else array), is_tensor, single


def _restore(array: np.ndarray, is_tensor: bool, single: bool):
    """Undo _batch_array: drop the batch axis of a single image, rewrap Tensors."""
    array = array[0] if single else array
    return Tensor(array) if is_tensor else array


class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p``, independently per image.

    x: (N, C, H, W) -> same shape and dtype (a new array; the input is not modified).
    One random draw per image and one masked assignment for the batch: no Python loop.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int | None = None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"flip probability must be in [0, 1], got {p}")
        self.p = p
        self.rng = np.random.default_rng(rng)

    def __call__(self, x):
        batch, is_tensor, single = _batch_array(x)
        #% solution hint="mask = self.rng.random(N) < self.p; copy the batch, then out[mask] = batch[mask][..., ::-1]."
        flip = self.rng.random(batch.shape[0]) < self.p
        out = batch.copy()
        out[flip] = batch[flip][..., ::-1]
        #% endsolution
        return _restore(out, is_tensor, single)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomCrop:
    """Zero-pad every side by ``padding``, then cut a ``size`` window at a random offset per image.

    x: (N, C, H, W) -> (N, C, size_h, size_w), same dtype. Offsets top in [0, H + 2p - size_h],
    left in [0, W + 2p - size_w], drawn per image (top first, then left).

    Systems point: one padded buffer for the whole batch, and a gather through a strided
    view (``sliding_window_view`` costs no memory: it only changes strides) instead of a
    Python loop of N slice copies.
    """

    def __init__(self, size: int | tuple[int, int], padding: int = 4, rng: np.random.Generator | int | None = None):
        self.size = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
        if padding < 0:
            raise ValueError(f"padding must be >= 0, got {padding}")
        self.padding = padding
        self.rng = np.random.default_rng(rng)

    def __call__(self, x):
        batch, is_tensor, single = _batch_array(x)
        n, _, height, width = batch.shape
        h, w = self.size
        p = self.padding
        #% solution hint="Refuse (ValueError) a crop larger than the padded image; np.pad only axes 2 and 3; draw top and left with rng.integers(0, H+2p-h+1, size=N); gather windows = sliding_window_view(padded, (h, w), axis=(2, 3)) at [arange(N), :, top, left]."
        if h > height + 2 * p or w > width + 2 * p:
            raise ValueError(f"crop size {self.size} is larger than the padded image ({height + 2 * p}, {width + 2 * p})")
        padded = np.pad(batch, ((0, 0), (0, 0), (p, p), (p, p)))
        top = self.rng.integers(0, height + 2 * p - h + 1, size=n)
        left = self.rng.integers(0, width + 2 * p - w + 1, size=n)
        windows = np.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(2, 3))
        out = np.ascontiguousarray(windows[np.arange(n), :, top, left])
        #% endsolution
        return _restore(out, is_tensor, single)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class Normalize:
    """Per-channel standardisation: (x - mean[c]) / std[c].

    x: (N, C, H, W) -> same shape and dtype; mean and std have one value per channel and are
    cast to x's dtype, so float32 stays float32.
    """

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1)
        #% solution hint="ValueError when mean and std differ in length or any std <= 0 (a division by zero would give inf)."
        if self.mean.shape != self.std.shape:
            raise ValueError(f"mean and std need one value per channel each, got {self.mean.shape} and {self.std.shape}")
        if np.any(self.std <= 0):
            raise ValueError(f"std must be positive, got {self.std.tolist()}")
        #% endsolution

    def __call__(self, x):
        batch, is_tensor, single = _batch_array(x)
        #% solution hint="Check len(mean) == C (ValueError naming both); reshape mean/std to (1, C, 1, 1) in batch.dtype and broadcast."
        channels = batch.shape[1]
        if self.mean.size != channels:
            raise ValueError(f"Normalize has {self.mean.size} channel statistics, the batch has C={channels} "
                             f"(shape {batch.shape})")
        mean = self.mean.astype(batch.dtype).reshape(1, channels, 1, 1)
        std = self.std.astype(batch.dtype).reshape(1, channels, 1, 1)
        out = (batch - mean) / std
        #% endsolution
        return _restore(out, is_tensor, single)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class Compose:
    """Apply transforms one after another: ``Compose([RandomCrop(32), RandomHorizontalFlip()])``."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        #% solution hint="Feed the output of each transform into the next."
        for transform in self.transforms:
            x = transform(x)
        return x
        #% endsolution

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


# ---------------------------------------------------------------- files, downloads, checksums

MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"  # yann.lecun.com no longer serves the files
MNIST_FILES = {
    True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_BATCHES = {True: [f"data_batch_{i}" for i in range(1, 6)], False: ["test_batch"]}
DIGITS_FILE = "digits.csv.gz"
DATA_COMMAND = "run `tito data` (or `make data` in the course repository)"

# IDX type byte -> big-endian NumPy dtype (the format of MNIST and Fashion-MNIST).
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data folder: ``root`` if given, else ``$TINYTORCH_DATA``, else ``~/.tinytorch/data``."""
    #% solution hint="Check root, then os.environ.get('TINYTORCH_DATA'), then Path.home() / '.tinytorch' / 'data'; return a Path with ~ expanded."
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get("TINYTORCH_DATA"):
        return Path(os.environ["TINYTORCH_DATA"]).expanduser()
    return Path.home() / ".tinytorch" / "data"
    #% endsolution


def offline_copies() -> Path | None:
    """The course's offline mirror, ``shared/datasets`` beside the repository holding this file (None if absent)."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "pyproject.toml").is_file():
            mirror = folder.parent / "shared" / "datasets"
            return mirror if mirror.is_dir() else None
    return None


def _open_url(url: str):
    """A readable binary stream for ``url`` (tests replace this to stay offline)."""
    return urllib.request.urlopen(url, timeout=60)


def download(url: str, dest: str | os.PathLike, md5: str, chunk_size: int = 1 << 20) -> Path:
    """Stream ``url`` into ``dest`` and check its md5; on a mismatch delete it and raise ValueError.

    The bytes go to ``dest.part`` first and are renamed only once the checksum matches, so an
    interrupted or corrupted download never leaves a file that looks complete. Memory stays at
    one chunk however large the file.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    #% solution hint="Read chunks from _open_url(url) into part while updating hashlib.md5; compare hexdigest with md5; on mismatch (or any error) unlink part and raise ValueError naming url, expected and got; else os.replace(part, dest)."
    digest = hashlib.md5()
    try:
        with _open_url(url) as stream, open(part, "wb") as out:
            while chunk := stream.read(chunk_size):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != md5:
            raise ValueError(f"checksum mismatch for {url}: expected md5 {md5}, got {digest.hexdigest()}; "
                             "the download was deleted, try again")
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    #% endsolution
    return dest


def _missing_error(what: str, folder: Path, listed: str, fix: str, cause: str = "") -> FileNotFoundError:
    reason = f" ({cause})" if cause else ""
    return FileNotFoundError(
        f"{what} not found: expected {listed} in {folder}{reason}. Fix: {fix}, or set TINYTORCH_DATA "
        "(or pass root=) to a folder that has them.")


def _ensure(folder: Path, names: list[str], urls_md5: list[tuple[str, str]], download_allowed: bool,
            what: str, fix: str, expected: str = "") -> list[Path]:
    """Paths of ``names`` in ``folder``, downloading missing ones if allowed; FileNotFoundError otherwise."""
    expected = expected or ", ".join(names)
    paths = [folder / name for name in names]
    missing = [(p, u) for p, u in zip(paths, urls_md5) if not p.exists()]
    if missing and not download_allowed:
        raise _missing_error(what, folder, expected, fix, "download=False")
    for path, (url, md5) in missing:
        try:
            download(url, path, md5)
        except OSError as error:
            raise _missing_error(what, folder, expected, fix, f"download of {url} failed: {error}") from error
    return paths


def read_idx(source) -> np.ndarray:
    """Parse an IDX file (raw or gzipped bytes, or a path) into an array of its declared shape.

    Layout: two zero bytes, a type byte (0x08 = uint8 ...), a byte with the number of dims d,
    then d big-endian uint32 sizes, then the values in C order, big-endian.
    MNIST images: magic 0x00000803, shape (N, 28, 28); labels: 0x00000801, shape (N,).
    """
    data = Path(source).read_bytes() if isinstance(source, (str, os.PathLike)) else bytes(source)
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    #% solution hint="Validate the header (length >= 4, two zero bytes, known type byte in IDX_DTYPES), read d sizes with np.frombuffer(dtype='>u4'), check the payload length equals prod(sizes) * itemsize, then np.frombuffer(...).reshape(sizes)."
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        raise ValueError(f"not an IDX file: magic bytes {data[:4].hex()} (expected 0000 then a type byte "
                         f"in {sorted(hex(k) for k in IDX_DTYPES)} and the number of dims)")
    dtype, ndim = np.dtype(IDX_DTYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"truncated IDX header: {ndim} dims need {header} bytes, the file has {len(data)}")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"corrupted IDX file: header says shape {shape} ({expected} bytes of {dtype}), "
                         f"the payload has {len(data) - header} bytes")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    #% endsolution


def load_mnist(root=None, train: bool = True, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits from the official IDX files in ``<root>/mnist/``.

    Returns images (N, 1, 28, 28) float32 in [0, 1] and labels (N,) int64 (N = 60000 train,
    10000 test). Missing files are downloaded (md5-checked) when ``download`` is true.
    """
    folder = data_root(root) / "mnist"
    names = list(MNIST_FILES[train])
    mirror = offline_copies()
    fix = (f"{DATA_COMMAND}, " + (f"copy the four files (cp {mirror}/mnist/*.gz {folder}/) " if mirror else "")
           + f"or download them from {MNIST_URL}")
    image_path, label_path = _ensure(folder, names, [(MNIST_URL + n, MNIST_MD5[n]) for n in names], download,
                                     "MNIST", fix)
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"MNIST files disagree: images {images.shape} ({image_path.name}), "
                         f"labels {labels.shape} ({label_path.name}); expected (N, 28, 28) and (N,)")
    return images.astype(np.float32)[:, None] / 255.0, labels.astype(np.int64)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles only what a CIFAR batch holds (dicts, lists, bytes, NumPy arrays).

    Pickle runs arbitrary code by design; a downloaded file must not get to import anything else.
    """

    _ALLOWED = {(f.__module__, f.__name__): f for f in (
        np.zeros(1).__reduce__()[0], np.zeros(1).__reduce_ex__(5)[0], np.float64(0).__reduce__()[0])}
    _ALLOWED.update({("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype})

    def find_class(self, module: str, name: str):
        for (allowed_module, allowed_name), obj in self._ALLOWED.items():
            # numpy 1 names its core numpy.core, numpy 2 numpy._core; accept both spellings
            if name == allowed_name and module.replace("numpy._core", "numpy.core") == \
                    allowed_module.replace("numpy._core", "numpy.core"):
                return obj
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset file")


def read_cifar_batch(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """One pickled CIFAR-10 batch -> images (N, 3, 32, 32) uint8 and labels (N,) int64.

    The batch is a dict with bytes keys: b"data" uint8 (N, 3072), each row the 1024 red,
    then green, then blue values of a 32x32 image in row order; b"labels" N ints in 0..9.
    """
    #% solution hint="Unpickle with _ArrayUnpickler(io.BytesIO(data), encoding='bytes').load() (ValueError if that fails); check it is a dict with b'data' and b'labels' (ValueError otherwise), that data is (N, 3072) and there are N labels; reshape rows to (N, 3, 32, 32): channel-planar, so no transpose."
    try:
        batch = _ArrayUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as error:
        raise ValueError(f"not a readable CIFAR-10 batch: {error}") from error
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"not a CIFAR-10 batch: expected a dict with b'data' and b'labels', got {keys}")
    images = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if images.ndim != 2 or images.shape[1] != 3 * 32 * 32 or labels.shape != (images.shape[0],):
        raise ValueError(f"corrupted CIFAR-10 batch: data {images.shape}, labels {labels.shape}; "
                         "expected (N, 3072) and (N,)")
    return images.reshape(-1, 3, 32, 32), labels
    #% endsolution


def load_cifar10(root=None, train: bool = True, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 from the official python batches, unpacked or inside the downloaded archive.

    Looks for ``<root>/cifar-10-batches-py/`` first, then ``<root>/cifar-10-python.tar.gz``
    (read in place, not extracted), then downloads the archive (md5-checked) if allowed.
    Returns images (N, 3, 32, 32) float32 in [0, 1] and labels (N,) int64
    (N = 50000 train from data_batch_1..5, 10000 test from test_batch).
    """
    base = data_root(root)
    names = CIFAR10_BATCHES[train]
    folder = base / CIFAR10_FOLDER
    if all((folder / name).exists() for name in names):
        raw = [(folder / name).read_bytes() for name in names]
    else:
        mirror = offline_copies()
        offline = f"python {mirror}/build_cifar10.py {base} --tar" if mirror else "the course mirror's build_cifar10.py"
        fix = f"{DATA_COMMAND}, build it offline ({offline}) or download {CIFAR10_URL}"
        wanted = [f"{CIFAR10_FOLDER}/{n}" for n in names]
        (archive,) = _ensure(base, [CIFAR10_ARCHIVE], [(CIFAR10_URL, CIFAR10_MD5)], download, "CIFAR-10", fix,
                             expected=f"{', '.join(wanted)} (or the archive {CIFAR10_ARCHIVE})")
        raw = _read_tar_members(archive, wanted)
    parts = [read_cifar_batch(data) for data in raw]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return images.astype(np.float32) / 255.0, labels


def _read_tar_members(archive: Path, wanted: list[str]) -> list[bytes]:
    """The bytes of each wanted member of a tar archive, by name (in the order asked)."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = {m.name.removeprefix("./"): m for m in tar.getmembers() if m.isfile()}
            missing = [name for name in wanted if name not in members]
            if missing:
                raise ValueError(f"{archive} lacks {', '.join(missing)}: not the CIFAR-10 python archive")
            return [tar.extractfile(members[name]).read() for name in wanted]
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ValueError(f"corrupted archive {archive}: {error}; delete it and download again") from error


def load_digits(root=None) -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 UCI handwritten digits (8x8, values 0..16) from ``<root>/digits.csv.gz``.

    Each CSV row holds 64 pixel values in row order, then the label. Returns images
    (N, 1, 8, 8) float32 in [0, 1] (divided by 16) and labels (N,) int64. No download: the
    file is a small CSV export (scikit-learn ships the same data).
    """
    path = data_root(root) / DIGITS_FILE
    if not path.exists():
        mirror = offline_copies()
        copy = f" or cp {mirror}/{DIGITS_FILE} {path.parent}/" if mirror else ""
        raise _missing_error("digits", path.parent, DIGITS_FILE, DATA_COMMAND + copy)
    table = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape[1] != 65:
        raise ValueError(f"{path}: expected 65 columns (64 pixels and the label), got {table.shape[1]}")
    return table[:, :64].reshape(-1, 1, 8, 8).astype(np.float32) / 16.0, table[:, 64].copy()
