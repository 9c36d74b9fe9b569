"""Build a module's grader bundles: the Gradescope autograder zip (and its unzipped folder).

Bundle layout (what Gradescope unzips into /autograder/source)::

    setup.sh, run_autograder     at the zip root, executable (Gradescope's contract)
    requirements.txt             pinned grader dependencies, installed by setup.sh into a venv
    grader.json                  the module's manifest slice + expected test ids per group
    tinytorch_grader/            the grader runtime
    tree/                        earlier modules (solved), conftest, visible + hidden tests; no module-NN code
    reference_copy/              module NN's reference, for timed ratio tests only
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from coursetools.manifest import Course, Module
from coursetools.release.render import PYTEST_INI, copy_tests, render_file, write_package

REQUIREMENTS = """\
# Exact pins, tested with Gradescope's python3 (3.10): every regrade uses the same stack.
numpy==2.2.6
pytest==9.2.0
pytest-json-report==1.5.0
pytest-timeout==2.4.0
msgpack==1.2.4
"""
"""numpy 2.2 is the last NumPy with Python 3.10 wheels."""
EXECUTABLE = 0o755


def build_bundles(course: Course, module: Module, dist: Path) -> dict[str, Path]:
    """Write dist/graders/NN_slug/{gradescope.zip, gradescope/}; returns the paths."""
    out = Path(dist).resolve() / "graders" / module.dirname
    folder = out / "gradescope"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    write_tree(course, module, folder / "tree")
    write_reference_copy(course, module, folder / "reference_copy")
    config = course.to_json_slice(module)
    config["expected"] = collect_expected(course, module, folder)
    (folder / "grader.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    copy_runtime(course, folder)
    archive = pack_zip(folder, out / "gradescope.zip")
    return {"gradescope": archive, "gradescope_dir": folder}


def write_tree(course: Course, module: Module, tree: Path) -> None:
    """Earlier modules, package files, conftest and every test of the module (no module-NN code)."""
    tree.mkdir(parents=True)
    write_package(course, module, tree, own_mode=None)
    copy_tests(course, module, tree, hidden=True)
    (tree / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")


def write_reference_copy(course: Course, module: Module, dest: Path) -> None:
    for relative in module.files:
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_file(course, module, relative, "solution"), encoding="utf-8")


def collect_expected(course: Course, module: Module, folder: Path) -> dict[str, list[str]]:
    """Test ids per group, collected on the tree completed with the reference solution."""
    probe = folder.parent / "collect-probe"
    if probe.exists():
        shutil.rmtree(probe)
    shutil.copytree(folder / "tree", probe)
    shutil.copytree(folder / "reference_copy", probe, dirs_exist_ok=True)
    try:
        expected = {}
        for group in module.groups:
            expected[group.name] = _collect(probe, group.path)
            if not expected[group.name]:
                raise RuntimeError(f"module {module.number}: group {group.name!r} collects no tests from {group.path}")
        return expected
    finally:
        shutil.rmtree(probe)


def _collect(tree: Path, test_path: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", test_path, "--collect-only", "-q", "-c", str(tree / "pytest.ini"),
         "--rootdir", str(tree), "-p", "no:cacheprovider"],
        cwd=tree, env=env, capture_output=True, text=True, check=False,
    )
    if result.returncode not in (0, 5):
        raise RuntimeError(f"collecting {test_path} on the reference failed:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return [line.strip() for line in result.stdout.splitlines() if "::" in line]


def copy_runtime(course: Course, folder: Path) -> None:
    graders = course.root / "graders"
    shutil.copytree(graders / "tinytorch_grader", folder / "tinytorch_grader",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for script in ("setup.sh", "run_autograder"):
        shutil.copyfile(graders / "templates" / script, folder / script)
        (folder / script).chmod(EXECUTABLE)
    (folder / "requirements.txt").write_text(REQUIREMENTS, encoding="utf-8")


def pack_zip(folder: Path, archive: Path) -> Path:
    """Zip the folder's contents (not the folder) with executable bits kept for the scripts."""
    archive.unlink(missing_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts:
                continue
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(2020, 1, 1, 0, 0, 0))
            mode = EXECUTABLE if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return archive
