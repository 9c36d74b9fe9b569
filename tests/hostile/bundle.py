"""A tiny grader bundle for module 01 and a way to grade one submission with it, as Gradescope would.

The bundle is the real grader runtime (``graders/tinytorch_grader``) with a small manifest slice:
one visible and one hidden group of a few tests each over the reference ``Tensor``, short
timeouts and tight limits, so a hostile submission costs seconds, not minutes. The hidden test
file carries ``HIDDEN_MARKER``; it must never show up in anything a student sees before the
due date.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GRADERS = ROOT / "graders"
OWNED = "tinytorch/core/tensor.py"
HIDDEN_MARKER = "HIDDEN-TEST-SECRET-4F2A9"
GRADER_PYTHON_ENV = "HOSTILE_GRADER_PYTHON"
"""Set to another Python (with the grader's pinned stack) to run the suite's grader on it, e.g. 3.10."""
BUDGET = 40.0
GRACE = 25.0
"""Seconds on top of the budget for starting the grader, and killing and reaping at the end."""
LIMITS = {
    "memory_bytes": 1 * 2**30,
    "max_processes": 32,
    "max_file_bytes": 16 * 2**20,
    "max_output_bytes": 256 * 2**10,
    "startup_seconds": 5.0,
}

CONFTEST = '''"""Shared helpers of the tiny bundle (a stand-in for the course's root conftest)."""
import numpy as np


def assert_close(got, want):
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float), rtol=1e-6)
'''
EARLIER = '''"""A stand-in for an earlier module that the bundle ships solved."""


def expected_total(values):
    return float(sum(values))
'''
VISIBLE = '''"""Visible tests of the tiny hostile-suite bundle."""
from tinytorch.core.tensor import Tensor

from conftest import assert_close


def test_shape():
    assert Tensor([[1.0, 2.0], [3.0, 4.0]]).shape == (2, 2)


def test_add():
    assert_close((Tensor([1.0, 2.0]) + Tensor([3.0, 4.0])).data, [4.0, 6.0])


def test_multiply():
    assert_close((Tensor([1.0, 2.0]) * Tensor([3.0, 4.0])).data, [3.0, 8.0])


def test_sum():
    assert_close(Tensor([1.0, 2.0, 3.0]).sum().data, 6.0)
'''
HIDDEN = f'''"""Hidden tests of the tiny hostile-suite bundle. {HIDDEN_MARKER}"""
from tinytorch.core.tensor import Tensor
from tinytorch.core.earlier import expected_total

from conftest import assert_close


def test_broadcast_add():
    assert_close((Tensor([[1.0], [2.0]]) + Tensor([10.0, 20.0])).data, [[11, 21], [12, 22]])


def test_scale_then_sum():
    assert_close((Tensor([1.0, 2.0]) * Tensor([2.0, 2.0])).sum().data, expected_total([2.0, 4.0]))
'''
GROUPS = [
    {"name": "basics", "title": "Basics", "points": 40.0, "visibility": "visible", "timeout": 1.0,
     "max_ratio": None, "leaderboard": [], "path": "tests/01_tensor/test_basics.py", "source": VISIBLE},
    {"name": "hidden", "title": "Hidden", "points": 20.0, "visibility": "after_due_date", "timeout": 1.0,
     "max_ratio": None, "leaderboard": [], "path": "hidden_tests/01_tensor/test_hidden.py", "source": HIDDEN},
]


def reference_tensor() -> str:
    return (ROOT / "reference" / OWNED).read_text(encoding="utf-8")


def buggy_tensor() -> str:
    """The reference with multiplication broken: an honest submission that earns part of the points."""
    source = reference_tensor()
    correct = 'return Tensor._make(self.data * other.data, "MulBackward", self, other)'
    assert correct in source, "the reference's __mul__ changed; update the hostile suite's buggy base"
    return source.replace(correct, 'return Tensor._make(self.data + other.data, "MulBackward", self, other)')


def write_bundle(source: Path) -> None:
    """An unzipped bundle at ``source``: grader.json, tree/ and the grader runtime beside it."""
    tree = source / "tree"
    files = {
        "tinytorch/__init__.py": "",
        "tinytorch/core/__init__.py": "",
        "tinytorch/core/earlier.py": EARLIER,
        "conftest.py": CONFTEST,
        "pytest.ini": "[pytest]\naddopts = -p no:cacheprovider\n",
    }
    files.update({group["path"]: group["source"] for group in GROUPS})
    for relative, text in files.items():
        (tree / relative).parent.mkdir(parents=True, exist_ok=True)
        (tree / relative).write_text(text, encoding="utf-8")
    groups = [{k: v for k, v in group.items() if k != "source"} for group in GROUPS]
    config = {
        "module": {"number": "01", "slug": "tensor", "title": "Tensor", "package": "tinytorch.core.tensor",
                   "files": [OWNED], "budget": BUDGET},
        "groups": groups,
        "expected": {g["name"]: [f"{g['path']}::{line[4:].split('(')[0]}" for line in g["source"].splitlines()
                                 if line.startswith("def test_")] for g in GROUPS},
        "limits": LIMITS,
    }
    (source / "grader.json").write_text(json.dumps(config, indent=1), encoding="utf-8")


def tree_digest(source: Path) -> str:
    """One hash over every file of the bundle's tree (tests, conftest, earlier modules)."""
    digest = hashlib.sha256()
    for path in sorted((source / "tree").rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(source).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@dataclass
class Graded:
    """One grading run: results.json as written, how long the grader took, and its output."""

    results: dict
    seconds: float
    output: str
    root: Path

    @property
    def score(self) -> float:
        return self.results["score"]

    def visible_text(self) -> str:
        """Everything a student sees before the due date."""
        shown = [self.results.get("output", "")]
        shown += [t.get("output", "") + t.get("name", "") for t in self.results["tests"] if t["visibility"] == "visible"]
        return "\n".join(shown)


def grade(root: Path, files: dict[str, str]) -> Graded:
    """Grade a submission made of ``files`` with the tiny bundle, in a fresh autograder tree at root."""
    source = root / "source"
    write_bundle(source)
    for relative, text in files.items():
        path = root / "submission" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "results").mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(GRADERS),
           "LD_LIBRARY_PATH": os.environ.get("LD_LIBRARY_PATH", "")}
    started = time.monotonic()
    done = subprocess.run([os.environ.get(GRADER_PYTHON_ENV, sys.executable), "-m", "tinytorch_grader", "--autograder-dir", str(root)],
                          cwd=GRADERS, env=env, capture_output=True, text=True, timeout=BUDGET + GRACE, check=False)
    seconds = time.monotonic() - started
    results = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    return Graded(results=results, seconds=seconds, output=done.stdout[-3000:] + done.stderr[-3000:], root=root)


def check_results_schema(results: dict) -> None:
    """Gradescope's results.json: numbers where numbers go, every test with status and visibility."""
    assert isinstance(results["score"], (int, float)) and isinstance(results["execution_time"], (int, float))
    total = 0.0
    for test in results["tests"]:
        assert {"name", "score", "max_score", "status", "visibility", "output"} <= set(test)
        assert test["status"] in ("passed", "failed")
        assert 0 <= test["score"] <= test["max_score"] + 1e-9
        total += test["score"]
    assert abs(total - results["score"]) < 1e-6
