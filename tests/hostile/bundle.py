"""A tiny grader bundle for module 01 and a way to grade one submission with it, as Gradescope would.

The bundle is the real grader runtime (``graders/tinytorch_grader``) with a small manifest slice:
two groups (each costs a trusted test process and a student server): a visible one of basics, one
test per operation (each computes its expected value ``want`` before calling the student's code,
as course tests do) and a timed test with a leaderboard column; and a hidden one. Short timeouts
and tight limits keep a hostile submission at seconds. The hidden test file carries ``HIDDEN_MARKER``; it must never show up in
anything a student sees before the due date.

``grade`` runs the grader on a Gradescope layout (``source/``, ``submission/``, ``results/``) and
watches it: the peak memory of the trusted processes (Gradescope's container has 768 MB), and
what the submission left behind (processes, files and SysV IPC of the sandbox uids).
``grade_zip`` runs the ``make grade`` path instead: a bundle zip and a zipped submission.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GRADER_DIR_ENV = "HOSTILE_GRADER_DIR"
"""Set to another folder holding a ``tinytorch_grader`` package to attack that runtime instead
(an older commit's, say: ``git archive <commit> graders | tar -x -C /tmp/old``)."""
GRADERS = Path(os.environ.get(GRADER_DIR_ENV, ROOT / "graders"))
OWNED = "tinytorch/core/tensor.py"
HIDDEN_MARKER = "HIDDEN-TEST-SECRET-4F2A9"
GRADER_PYTHON_ENV = "HOSTILE_GRADER_PYTHON"
"""Set to another Python (with the grader's pinned stack) to run the suite's grader on it, e.g. 3.10."""
BUDGET = 40.0
GRACE = 25.0
"""Seconds on top of the budget for starting the grader, and killing and reaping at the end."""
PARENT_MEMORY_MIB = 512
"""Most resident memory any trusted process of the grader may reach (Gradescope's container: 768 MB)."""
LIMITS = {
    "memory_bytes": 1 * 2**30,
    "max_processes": 32,
    "max_file_bytes": 16 * 2**20,
    "max_output_bytes": 256 * 2**10,
    "startup_seconds": 5.0,
}
SANDBOX_UID_BASE, UIDS_PER_GRADER = 1_800_000, 4
"""The sandbox's uid scheme (tinytorch_grader.sandbox), repeated so the suite can find leftovers."""
SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")

CONFTEST = '''"""Shared helpers of the tiny bundle (a stand-in for the course's root conftest)."""
import numpy as np


def assert_close(got, want):
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float), rtol=1e-6)
'''
EARLIER = '''"""A stand-in for an earlier module that the bundle ships solved."""


def expected_total(values):
    return float(sum(values))
'''
VISIBLE = '''"""Visible tests of the tiny hostile-suite bundle: the basics, one test per operation (each with
its expected value in a local before the student's code runs, as course tests do), and a timed test
that records a leaderboard metric."""
import time

import numpy as np
from tinytorch.core.tensor import Tensor

from conftest import assert_close

A = np.array([[1.0, 2.0], [3.0, 4.0]])
B = np.array([[0.5, -1.0], [2.0, 0.25]])


def test_shape():
    assert Tensor([[1.0, 2.0], [3.0, 4.0]]).shape == (2, 2)


def test_add():
    assert_close((Tensor([1.0, 2.0]) + Tensor([3.0, 4.0])).data, [4.0, 6.0])


def test_multiply():
    assert_close((Tensor([1.0, 2.0]) * Tensor([3.0, 4.0])).data, [3.0, 8.0])


def test_sum():
    assert_close(Tensor([1.0, 2.0, 3.0]).sum().data, 6.0)


def test_subtract():
    want = A - B
    got = (Tensor(A) - Tensor(B)).data
    assert_close(got, want)


def test_divide():
    want = A / B
    got = (Tensor(A) / Tensor(B)).data
    assert_close(got, want)


def test_mean():
    want = A.mean(axis=0)
    got = Tensor(A).mean(axis=0).data
    assert_close(got, want)


def test_matmul():
    want = A @ B
    got = (Tensor(A) @ Tensor(B)).data
    assert_close(got, want)


def test_negate():
    want = -A
    got = (-Tensor(A)).data
    assert_close(got, want)


def test_power():
    want = A ** 3
    got = (Tensor(A) ** 3).data
    assert_close(got, want)


def test_exp():
    want = np.exp(A)
    got = Tensor(A).exp().data
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_transpose():
    want = A.T
    got = Tensor(A).transpose().data
    np.testing.assert_array_equal(got, want)


def test_max_item():
    want = 4.0
    got = Tensor(A).max().item()
    assert got == want


def test_reshape_shape():
    want = (4, 1)
    got = Tensor(A).reshape(4, 1).shape
    assert got == want


def test_add_speed(record_metric):
    a = np.arange(256.0)
    left, right = Tensor(a), Tensor(a)
    start = time.perf_counter()
    for _ in range(20):
        left + right
    student = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(20):
        a + a
    numpy = max(time.perf_counter() - start, 1e-9)
    record_metric("add_time_ratio", student / numpy)
    assert student / numpy < 1e7
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
    {"name": "visible", "title": "Visible", "points": 150.0, "visibility": "visible", "timeout": 1.0,
     "max_ratio": None, "leaderboard": ["add_time_ratio:asc"], "path": "tests/01_tensor/test_visible.py",
     "source": VISIBLE},
    {"name": "hidden", "title": "Hidden", "points": 20.0, "visibility": "after_due_date", "timeout": 1.0,
     "max_ratio": None, "leaderboard": [], "path": "hidden_tests/01_tensor/test_hidden.py", "source": HIDDEN},
]
MISTAKES = '''

# --- the honest student's mistakes: each makes one operation test fail ---
def _mistaken_sub(self, other):
    return Tensor(self.data + Tensor._lift(other).data)


def _mistaken_truediv(self, other):
    return Tensor(self.data * Tensor._lift(other).data)


def _mistaken_mean(self, axis=None, keepdims=False):
    return Tensor(self.data.sum(axis=axis, keepdims=keepdims))


def _mistaken_matmul(self, other):
    return Tensor(self.data * Tensor._lift(other).data)


def _mistaken_pow(self, exponent):
    return Tensor(self.data * exponent)


def _mistaken_max(self, axis=None, keepdims=False):
    return Tensor(self.data.min(axis=axis, keepdims=keepdims))


Tensor.__sub__ = _mistaken_sub
Tensor.__truediv__ = _mistaken_truediv
Tensor.mean = _mistaken_mean
Tensor.matmul = _mistaken_matmul
Tensor.__neg__ = lambda self: Tensor(self.data)
Tensor.__pow__ = _mistaken_pow
Tensor.exp = lambda self: Tensor(self.data)
Tensor.transpose = lambda self, dim0=None, dim1=None: Tensor(self.data)
Tensor.max = _mistaken_max
Tensor.reshape = lambda self, *shape: Tensor(self.data)
'''


def reference_tensor() -> str:
    return (ROOT / "reference" / OWNED).read_text(encoding="utf-8")


def honest_tensor() -> str:
    """The reference with multiplication broken and every operation test's operation wrong: an honest
    submission that earns part of the points (the basics but one, the speed, half the hidden)."""
    source = reference_tensor()
    correct = 'return Tensor._make(self.data * other.data, "MulBackward", self, other)'
    assert correct in source, "the reference's __mul__ changed; update the hostile suite's honest base"
    return source.replace(correct, 'return Tensor._make(self.data + other.data, "MulBackward", self, other)') + MISTAKES


def expected_ids() -> dict[str, list[str]]:
    return {g["name"]: [f"{g['path']}::{line[4:].split('(')[0]}" for line in g["source"].splitlines()
                        if line.startswith("def test_")] for g in GROUPS}


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
        "expected": expected_ids(),
        "limits": LIMITS,
    }
    (source / "grader.json").write_text(json.dumps(config, indent=1), encoding="utf-8")


def write_bundle_zip(archive: Path) -> None:
    """The tiny bundle as Gradescope receives it: a zip with run_autograder and the runtime inside."""
    staging = archive.with_suffix("")
    write_bundle(staging)
    shutil.copytree(GRADERS / "tinytorch_grader", staging / "tinytorch_grader",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(GRADERS / "templates" / "run_autograder", staging / "run_autograder")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(staging.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(path.relative_to(staging).as_posix())
                info.external_attr = (stat.S_IFREG | (0o755 if path.name == "run_autograder" else 0o644)) << 16
                zf.writestr(info, path.read_bytes())
    shutil.rmtree(staging)


def tree_digest(source: Path) -> str:
    """One hash over every file of the bundle's tree (tests, conftest, earlier modules)."""
    digest = hashlib.sha256()
    for path in sorted((source / "tree").rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(source).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@dataclass
class Graded:
    """One grading run: results.json as written, how long the grader took, its output, and what
    the suite saw of it (peak memory of its trusted processes, what the submission left behind)."""

    results: dict
    seconds: float
    output: str
    root: str
    peak_mib: float = 0.0
    leftovers: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return self.results["score"]

    def test_score(self, name: str) -> float:
        """Points of the test whose name ends with ``name`` (``test_subtract``)."""
        found = [t["score"] for t in self.results["tests"] if t["name"].endswith(f"› {name}")]
        assert len(found) == 1, f"no single test named {name} in the results"
        return found[0]

    def leaderboard(self) -> dict:
        return {entry["name"]: entry["value"] for entry in self.results.get("leaderboard", [])}

    def visible_text(self) -> str:
        """Everything a student sees before the due date."""
        shown = [self.results.get("output", "")]
        shown += [t.get("output", "") + t.get("name", "") for t in self.results["tests"] if t["visibility"] == "visible"]
        return "\n".join(shown)


def grade(root: Path, files: dict[str, str], links: dict[str, str] | None = None) -> Graded:
    """Grade a submission made of ``files`` (and symlinks ``links``: path -> target) with the tiny
    bundle, in a fresh autograder tree at root."""
    source = root / "source"
    write_bundle(source)
    (root / "submission").mkdir(parents=True, exist_ok=True)
    for relative, text in files.items():
        path = root / "submission" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for relative, target in (links or {}).items():
        path = root / "submission" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)
    (root / "results").mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(GRADERS),
           "LD_LIBRARY_PATH": os.environ.get("LD_LIBRARY_PATH", "")}
    started = time.monotonic()
    process = subprocess.Popen([os.environ.get(GRADER_PYTHON_ENV, sys.executable), "-m", "tinytorch_grader",
                                "--autograder-dir", str(root)], cwd=GRADERS, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    watcher = MemoryWatcher(process.pid)
    try:
        output, _ = process.communicate(timeout=BUDGET + GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        output += f"\nthe grader was still running after {BUDGET + GRACE:g} s and was killed".encode()
    finally:
        process.kill()
        watcher.stop()
    seconds = time.monotonic() - started
    try:
        results = read_results(root / "results" / "results.json")
    except (OSError, ValueError) as error:
        results = {"error": str(error)}
    return Graded(results=results, seconds=seconds, output=output.decode("utf-8", "replace")[-6000:], root=str(root),
                  peak_mib=watcher.peak_mib, leftovers=leftovers_of(sandbox_uids(process.pid)))


def grade_zip(root: Path, archive: Path) -> Graded:
    """The ``make grade`` path: the tiny bundle's zip and a zipped submission, through coursetools.
    A refused submission (intake.RefusedSubmission) is recorded as 0 points with the refusal."""
    from coursetools.grade.submission import grade_with_bundle
    from tinytorch_grader.intake import RefusedSubmission

    root.mkdir(parents=True, exist_ok=True)
    bundle_zip = root / "gradescope.zip"
    write_bundle_zip(bundle_zip)
    target = root / "results" / "results.json"
    started = time.monotonic()
    try:
        grade_with_bundle(bundle_zip, archive, target)
        results = read_results(target)
    except RefusedSubmission as error:
        results = {"score": 0.0, "execution_time": 0.0, "tests": [], "output": f"refused: {error}"}
    return Graded(results=results, seconds=time.monotonic() - started, output="", root=str(root))


def read_results(path: Path) -> dict:
    """results.json parsed as strict JSON: NaN or Infinity in it is an error (Gradescope rejects it)."""

    def refuse(token: str):
        raise ValueError(f"{path} holds {token}, which is not JSON (Gradescope rejects the file)")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


class MemoryWatcher:
    """Samples the peak resident memory (VmHWM) of the grader and of its descendants that run as
    root (the trusted side; sandboxed processes run as another uid) until stopped."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_mib, self.done = pid, 0.0, threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.done.wait(0.05):
            for pid in _descendants(self.pid):
                status = _status(pid)
                if status.get("Uid", "0").split()[:1] == [str(os.geteuid())] and "VmHWM" in status:
                    self.peak_mib = max(self.peak_mib, int(status["VmHWM"].split()[0]) / 1024)

    def stop(self) -> None:
        self.done.set()
        self.thread.join(timeout=2)


def _status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _descendants(top: int) -> list[int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parents[int(entry)] = int(_status(int(entry)).get("PPid", "0").strip() or 0)
    found, frontier = [top], [top]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier and pid not in found]
        found += frontier
    return found


def sandbox_uids(grader_pid: int) -> list[int]:
    """The uids the grader with this pid gives its sandboxes (none when it is not root)."""
    if os.geteuid() != 0:
        return []
    first = SANDBOX_UID_BASE + grader_pid % 100_000 * UIDS_PER_GRADER
    return list(range(first, first + UIDS_PER_GRADER))


def leftovers_of(uids: list[int]) -> list[str]:
    """What processes of these uids left once the grader is done: live processes, files in the
    shared temp folders (any depth up to 4), SysV shared memory, semaphores and message queues."""
    wanted = {str(uid) for uid in uids}
    left = [f"process {pid}" for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
            if _status(pid).get("Uid", "").split()[:1] and _status(pid)["Uid"].split()[0] in wanted
            and _status(pid).get("State", "").strip()[:1] != "Z"]
    for top in SHARED_FOLDERS:
        for folder, dirs, names in os.walk(top):
            if folder.count(os.sep) - top.count(os.sep) >= 4:
                dirs[:] = []
            for name in [*dirs, *names]:
                try:
                    if str(os.lstat(os.path.join(folder, name)).st_uid) in wanted:
                        left.append(os.path.join(folder, name) + _maker_of(os.path.join(folder, name)))
                except OSError:
                    pass
    for table in ("shm", "sem", "msg"):
        try:
            lines = Path(f"/proc/sysvipc/{table}").read_text().splitlines()
        except OSError:
            continue
        header = lines[0].split() if lines else []
        for line in lines[1:]:
            row = dict(zip(header, line.split()))
            if {row.get("uid"), row.get("cuid")} & wanted:
                left.append(f"SysV {table} key {row.get('key')}")
    return left


def _maker_of(path: str) -> str:
    """' (run folder made by 1234:5678)' for a path in a grader's run folder: whose folder it was."""
    parts = Path(path).parts
    for depth in range(len(parts), 1, -1):
        owner = Path(*parts[:depth]) / ".owner"
        if parts[depth - 1].startswith("tinytorch-run-") and owner.is_file():
            return f" (run folder made by {owner.read_text().strip()})"
    return ""


def check_results_schema(results: dict) -> None:
    """Gradescope's results.json: strict JSON, numbers where numbers go, every test with status and visibility."""
    assert "error" not in results, results.get("error")
    json.dumps(results, allow_nan=False)
    assert isinstance(results["score"], (int, float)) and isinstance(results["execution_time"], (int, float))
    total = 0.0
    for test in results["tests"]:
        assert {"name", "score", "max_score", "status", "visibility", "output"} <= set(test)
        assert test["status"] in ("passed", "failed")
        assert 0 <= test["score"] <= test["max_score"] + 1e-9
        total += test["score"]
    assert abs(total - results["score"]) < 1e-6
