"""``tito system doctor`` and ``tito setup``: is this machine ready, and what fixes it if not."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from coursetools.tito.errors import OK, USAGE
from coursetools.tito.output import Output
from coursetools.tito.workspace import Workspace

MIN_PYTHON = (3, 10)
TEST_TOOLS = ("pytest", "pytest-timeout", "pytest-json-report")
DATASETS = {"MNIST": "mnist/train-images-idx3-ubyte.gz", "CIFAR-10": "cifar-10-batches-py/test_batch",
            "8x8 digits": "digits.csv.gz", "Tiny Shakespeare": "tinyshakespeare.txt"}


@dataclass
class Check:
    """One thing the doctor looked at."""

    name: str
    ok: bool
    found: str
    fix: str = ""
    required: bool = True

    def to_dict(self) -> dict:
        return vars(self).copy()


def install_command(ws: Workspace, extra: str = "test") -> str:
    return "make setup" if not ws.is_student else f"pip install -e \".[{extra}]\""


def checks(ws: Workspace) -> list[Check]:
    """Python, NumPy and its BLAS, the test and notebook tools, tinytorch, the data folder."""
    found = [_python(), _numpy()]
    found += [_package(name, install_command(ws)) for name in TEST_TOOLS]
    found.append(_package("jupytext", install_command(ws, "notebook"), required=False))
    found.append(_package("rich", install_command(ws), required=False))
    found.append(_tinytorch(ws))
    found.append(_data_folder())
    return found


def doctor(ws: Workspace, out: Output, args) -> int:
    found = checks(ws)
    rows = [[c.name, "ok" if c.ok else ("MISSING" if c.required else "optional, missing"), c.found, c.fix if not c.ok else ""]
            for c in found]
    styles = ["green" if c.ok else ("red" if c.required else "yellow") for c in found]
    out.table("tito system doctor", ["check", "state", "found", "fix"], rows, styles)
    missing = [c for c in found if c.required and not c.ok]
    out.say("everything needed is there" if not missing else
            f"{len(missing)} required thing(s) missing; run the fix commands above")
    out.data({"ok": not missing, "checks": [c.to_dict() for c in found]})
    return OK if not missing else USAGE


def setup(ws: Workspace, out: Output, args) -> int:
    """Install what is missing (unless --check), create the data and state folders, then run the doctor."""
    missing = [c for c in checks(ws) if c.required and not c.ok and c.fix.startswith("pip ")]
    if missing and ws.is_student and not args.check:
        out.say(f"installing: {', '.join(c.name for c in missing)}")
        with out.quiet_stdout():
            subprocess.run([sys.executable, "-m", "pip", "install", "-e", f"{ws.root}[test]"], check=False)
    _data_root().mkdir(parents=True, exist_ok=True)
    ws.state_dir.mkdir(parents=True, exist_ok=True)
    return doctor(ws, out, args)


def _python() -> Check:
    version = sys.version_info[:3]
    return Check("Python", version >= MIN_PYTHON, f"{platform.python_version()} ({sys.executable})",
                 f"install Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer")


def _numpy() -> Check:
    try:
        import numpy
    except ImportError:
        return Check("NumPy", False, "not installed", "pip install numpy")
    return Check("NumPy", True, f"{numpy.__version__}, BLAS: {_blas_name(numpy)}")


def _blas_name(numpy) -> str:
    try:
        config = numpy.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy: no dict mode; the name is then not essential
        return "unknown (NumPy < 1.25)"


def _package(name: str, fix: str, required: bool = True) -> Check:
    try:
        return Check(name, True, importlib.metadata.version(name), required=required)
    except importlib.metadata.PackageNotFoundError:
        return Check(name, False, "not installed", fix, required=required)


def _tinytorch(ws: Workspace) -> Check:
    try:
        import tinytorch
    except ImportError:
        return Check("tinytorch", False, "not importable", install_command(ws))
    location = Path(tinytorch.__file__).resolve().parent
    expected = (ws.package_root / "tinytorch").resolve()
    if location != expected:
        return Check("tinytorch", False, f"imported from {location}, not this repository",
                     f"run `{install_command(ws)}` in {ws.root}")
    return Check("tinytorch", True, str(location))


def _data_root() -> Path:
    return Path(os.environ.get("TINYTORCH_DATA") or Path.home() / ".tinytorch" / "data").expanduser()


def _data_folder() -> Check:
    root = _data_root()
    present = [name for name, relative in DATASETS.items() if (root / relative).is_file()]
    text = f"{root}: {', '.join(present) or 'no datasets yet'}"
    return Check("datasets", bool(present), text, "tito data", required=False)
