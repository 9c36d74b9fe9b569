"""The grader's folders in the machine's temp folder, each marked with the process that made it.

A grader removes its folders when it ends, but a grader killed with SIGKILL (a batch stopped with
Ctrl-C, the out-of-memory killer, a CI timeout) cannot. What it leaves is not only litter: the
sandbox uids are derived from the grader's pid (``sandbox.choose_uid``), pids are reused, and a
later grader with the same pid would run its sandboxes as the owner of the dead one's ``home``.
So every folder made here holds an ``.owner`` file (pid and kernel start time of its maker), and
``sweep()`` (run once when a grading starts) removes those whose maker no longer runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

PREFIXES = ("tinytorch-grade-", "tinytorch-run-", "tinytorch-autograder-", "tinytorch-batch-", "tinytorch-root-")
"""What the grader (``run.py``: a grading's tree, a group's run folder), ``make grade``
(``coursetools.grade.submission``: the unpacked bundle) and ``make grade-batch``'s workers
(``coursetools.grade.engines``: a submission's results, its unpacked files, a Dask task's bytes) make,
and the empty mount point under which ``isolation`` builds a sandbox's root."""
OWNER_FILE = ".owner"
UNMARKED_AGE_SECONDS = 600
"""A folder without an owner file (made by an older release, or its maker was killed between
creating it and marking it) counts as abandoned once it is this old."""


def make(prefix: str) -> Path:
    """A new folder in the temp folder, marked as this process's."""
    if prefix not in PREFIXES:
        raise ValueError(f"temp folder prefix {prefix!r} is not one sweep() knows: use one of {PREFIXES}")
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    (folder / OWNER_FILE).write_text(identity(os.getpid()) or str(os.getpid()), encoding="utf-8")
    return folder


@contextlib.contextmanager
def folder(prefix: str):
    """``make(prefix)``, removed when the block ends."""
    path = make(prefix)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sweep(top: Path | None = None) -> list[Path]:
    """Remove the marked folders in ``top`` (the temp folder) whose maker no longer runs, and the
    unmarked ones older than UNMARKED_AGE_SECONDS; only folders this user owns. Returns them."""
    removed = []
    for folder in _candidates(Path(top or tempfile.gettempdir())):
        if abandoned(folder):
            shutil.rmtree(folder, ignore_errors=True)  # best effort: a later sweep tries again
            removed.append(folder)
    return removed


def abandoned(folder: Path) -> bool:
    """Whether ``folder``'s maker is gone (an unmarked folder: whether it is old)."""
    try:
        owner = (folder / OWNER_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        try:
            return time.time() - folder.stat().st_mtime > UNMARKED_AGE_SECONDS
        except OSError:
            return False
    except OSError:
        return False
    pid = owner.split(":")[0]
    return not pid.isdigit() or identity(int(pid)) != owner


def identity(pid: int) -> str | None:
    """``pid:start-time`` of a running process (None when it does not run). The start time, in
    clock ticks since boot (field 22 of /proc/<pid>/stat), tells a reused pid from the original;
    without /proc the pid alone is used."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return f"{pid}:{fields[19]}" if fields[0] != "Z" else None
    except FileNotFoundError:
        return None if Path("/proc/self").exists() else _pid_only(pid)
    except (OSError, IndexError):
        return None


def _pid_only(pid: int) -> str | None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return str(pid)


def _candidates(top: Path) -> list[Path]:
    try:
        entries = list(os.scandir(top))
    except OSError:
        return []
    me = os.geteuid()
    found = []
    for entry in entries:
        if entry.name.startswith(PREFIXES):
            try:
                if entry.is_dir(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_uid == me:
                    found.append(Path(entry.path))
            except OSError:
                continue
    return found
