"""``make data``: put the course's datasets where tinytorch's loaders look for them.

Destination: ``$TINYTORCH_DATA`` or ``~/.tinytorch/data``. With a local mirror (the course's
``shared/datasets`` folder, found beside the repository or given with ``--mirror``) the official
files are copied from it and CIFAR-10's python batches are rebuilt by its ``build_cifar10.py``;
without one, the loaders download the official files and verify their checksums.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from coursetools.manifest import repo_root

MNIST = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def default_mirror() -> Path | None:
    candidate = repo_root().parent / "shared" / "datasets"
    return candidate if candidate.is_dir() else None


def main(*, dest: str | None = None, mirror: str | None = None) -> Path:
    """Make MNIST, CIFAR-10, the 8x8 digits and Tiny Shakespeare available; returns the data folder."""
    from tinytorch.core.dataloader import data_root

    target = data_root(dest)
    source = Path(mirror) if mirror else default_mirror()
    target.mkdir(parents=True, exist_ok=True)
    if source is not None:
        copy_from_mirror(source, target)
    else:
        download_all(target)
    print(f"datasets ready in {target}")
    return target


def copy_from_mirror(source: Path, target: Path) -> None:
    (target / "mnist").mkdir(exist_ok=True)
    for name in MNIST:
        _copy(source / "mnist" / name, target / "mnist" / name)
    for name in ("digits.csv.gz", "tinyshakespeare.txt"):
        _copy(source / name, target / name)
    if not (target / "cifar-10-batches-py" / "test_batch").is_file():
        subprocess.run([sys.executable, str(source / "build_cifar10.py"), str(target)], check=True)


def download_all(target: Path) -> None:
    from tinytorch.core.dataloader import load_cifar10, load_mnist

    load_mnist(target, train=True)
    load_mnist(target, train=False)
    load_cifar10(target, train=False)


def _copy(source: Path, target: Path) -> None:
    if not target.is_file():
        shutil.copyfile(source, target)
