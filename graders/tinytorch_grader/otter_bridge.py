"""What the Otter bundle's test files call: grade the submission once with this grader, then
answer per test.

Otter grades one ``.py`` file per submission and copies the bundle's ``files/`` into the
submission folder unless the student already has a folder of that name. So the tests never use
that copy: they read the pristine bundle from ``../source/files/`` (Otter's own layout, on
Gradescope and under ``otter run`` alike), and the submitted ``.py`` becomes the module's one
owned file. Everything else (earlier modules, tests, conftest, the grader) comes from the bundle,
and the grading itself runs in ``tinytorch_grader.run``'s sandbox, in a separate process.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_GRADED: dict[str, dict[str, dict]] = {}
"""bundle folder -> test id -> the test's entry in results.json (one grading per kernel)."""


def outcome(bundle: str, nodeid: str) -> tuple[bool, str]:
    """(passed, feedback) of one test of the bundle's module for the submission in the cwd."""
    if bundle not in _GRADED:
        _GRADED[bundle] = grade_submission(Path(bundle), submitted_file(Path.cwd()))
    entry = _GRADED[bundle].get(nodeid)
    if entry is None:
        return False, f"{nodeid} has no result: the grader did not report it"
    return entry["status"] == "passed", entry.get("output", "")


def submitted_file(folder: Path) -> Path | None:
    """The one top-level .py of an Otter submission folder (Otter itself insists on one)."""
    found = [Path(p) for p in glob.glob(str(folder / "*.py")) if Path(p).name != "__init__.py"]
    return found[0] if len(found) == 1 else None


def grade_submission(bundle: Path, submitted: Path | None) -> dict[str, dict]:
    """Run the bundle's grader on the submitted file in a fresh autograder tree; entries by test id."""
    config = json.loads((bundle / "grader.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="tinytorch-otter-") as scratch:
        root = Path(scratch)
        shutil.copytree(bundle, root / "source", ignore=shutil.ignore_patterns("__pycache__"))
        owned = root / "submission" / config["module"]["files"][0]
        owned.parent.mkdir(parents=True)
        if submitted is not None:
            shutil.copyfile(submitted, owned)
        (root / "results").mkdir()
        subprocess.run(
            [sys.executable, "-m", "tinytorch_grader", "--autograder-dir", str(root)],
            cwd=root / "source", env={**os.environ, "PYTHONPATH": str(root / "source")},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
        )
        results = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    return entries_by_test_id(config, results)


def entries_by_test_id(config: dict, results: dict) -> dict[str, dict]:
    """results.json numbers tests "G.k" (group G, test k of its expected list): map them back."""
    by_number = {test.get("number"): test for test in results.get("tests", [])}
    entries = {}
    for index, group in enumerate(config["groups"], start=1):
        for k, nodeid in enumerate(config["expected"].get(group["name"], []), start=1):
            if f"{index}.{k}" in by_number:
                entries[nodeid] = by_number[f"{index}.{k}"]
    return entries
