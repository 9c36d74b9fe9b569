"""``make data`` / ``tito data``: put the course's datasets where tinytorch's loaders look for them.

Destination: ``$TINYTORCH_DATA`` or ``~/.tinytorch/data``. With a local mirror (the course's
``shared/datasets`` folder, found beside the repository or given with ``--mirror``) the official
files are copied from it and CIFAR-10's python batches are rebuilt by its ``build_cifar10.py``;
without one, the loaders download the official files and verify their checksums. Either way the
MNIST files are checked against their published md5 afterwards.

The work is a list of named steps, so a caller can show a progress bar over them.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from coursetools.manifest import ManifestError, repo_root

MNIST = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
SMALL_FILES = ["digits.csv.gz", "tinyshakespeare.txt"]


class DataError(ValueError):
    """The datasets cannot be put in place; the message says why and what to do."""


@dataclass(frozen=True)
class Step:
    """One unit of work: what it does, and the function doing it."""

    description: str
    run: Callable[[], None]


def loaders():
    """tinytorch's data module (module 08); a clear error when this tree does not have it yet."""
    try:
        from tinytorch.core import dataloader
    except ImportError:
        raise DataError("tinytorch.core.dataloader (module 08) is not in this tinytorch yet; the datasets are "
                        "needed from module 08 on (the milestones run in the course repository)") from None
    return dataloader


def default_mirror() -> Path | None:
    """``shared/datasets`` beside the course repository, when there is one."""
    try:
        candidate = repo_root().parent / "shared" / "datasets"
    except ManifestError:  # a student repository: no course repository around it
        return None
    return candidate if candidate.is_dir() else None


def plan(target: Path, source: Path | None) -> list[Step]:
    """The steps that make every dataset available in target (copy from source, or download)."""
    if source is not None:
        if not source.is_dir():
            raise DataError(f"the mirror {source} does not exist; pass --mirror DIR or leave it out to download")
        steps = [Step(f"copy mnist/{n}", _copier(source / "mnist" / n, target / "mnist" / n)) for n in MNIST]
        steps += [Step(f"copy {n}", _copier(source / n, target / n)) for n in SMALL_FILES]
        steps.append(Step("build CIFAR-10 python batches", lambda: _build_cifar(source, target)))
        return steps
    data = loaders()
    return [
        Step("download MNIST train (md5-checked)", lambda: data.load_mnist(target, train=True)),
        Step("download MNIST test (md5-checked)", lambda: data.load_mnist(target, train=False)),
        Step("download CIFAR-10 (md5-checked)", lambda: data.load_cifar10(target, train=False)),
    ]


def verify(target: Path, mirror: Path | None = None) -> dict[str, str]:
    """{file: state} for the MNIST files: "ok" when the md5 is the published one, "ok (as in the mirror)"
    when it equals the mirror's copy (mirrors may hold re-compressed files), else "missing" or the mismatch."""
    expected = loaders().MNIST_MD5
    found = {}
    for name in MNIST:
        path = target / "mnist" / name
        if not path.is_file():
            found[f"mnist/{name}"] = "missing"
            continue
        got = _md5(path)
        copy = mirror / "mnist" / name if mirror else None
        if got == expected[name]:
            found[f"mnist/{name}"] = "ok"
        elif copy is not None and copy.is_file() and _md5(copy) == got:
            found[f"mnist/{name}"] = "ok (as in the mirror)"
        else:
            found[f"mnist/{name}"] = f"md5 mismatch: got {got}, expected {expected[name]}"
    return found


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def data_folder(dest: str | None = None) -> Path:
    return loaders().data_root(dest)


def main(*, dest: str | None = None, mirror: str | None = None) -> Path:
    """Make MNIST, CIFAR-10, the 8x8 digits and Tiny Shakespeare available; returns the data folder."""
    target = data_folder(dest)
    source = Path(mirror) if mirror else default_mirror()
    target.mkdir(parents=True, exist_ok=True)
    for step in plan(target, source):
        print(step.description, flush=True)
        step.run()
    bad = {name: state for name, state in verify(target, source).items() if not state.startswith("ok")}
    if bad:
        raise DataError(f"checksums failed in {target}: {bad}; delete those files and run again")
    print(f"datasets ready in {target}")
    return target


def _copier(source: Path, target: Path) -> Callable[[], None]:
    def copy() -> None:
        if target.is_file():
            return
        if not source.is_file():
            raise DataError(f"{source} is missing from the mirror")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)

    return copy


def _build_cifar(source: Path, target: Path) -> None:
    if not (target / "cifar-10-batches-py" / "test_batch").is_file():
        subprocess.run([sys.executable, str(source / "build_cifar10.py"), str(target)], check=True)
