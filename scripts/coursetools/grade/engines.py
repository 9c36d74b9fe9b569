"""Where ``make grade-batch`` grades: a local pool of worker processes (default) or a Dask cluster.

Both engines run the same per-submission function, ``grade_submission``: unpack the bundle in a
throwaway autograder tree, run its ``run_autograder`` on the submission (``grade_with_bundle``,
exactly like ``make grade``), and return an **outcome**, a JSON-able dict::

    {"name", "status": "graded" | "ungraded", "reason": str | None, "results": dict | None,
     "report": dict | None, "submitted": {relative path: text}, "seconds": float, "worker": str}

Nothing is written into RESULTS by a worker: the batch stores each outcome as it arrives (see
``coursetools.grade.batch``), so a worker that dies, or a batch that is stopped, leaves no half-written
result behind.

- ``LocalPool(jobs)``: at most ``jobs`` worker processes (``python -m coursetools.grade.engines``), each
  in its own session so a terminal's Ctrl-C reaches only the batch, which then kills every
  running worker's whole process tree (the grader and the sandboxed student processes under it)
  and starts nothing more.
- ``DaskEngine(scheduler)``: one task per submission on a ``distributed`` scheduler
  (``host:port``); the bundle and each submission travel as bytes inside the task, so
  workers need no shared filesystem, only this toolchain installed (``pip install -e scripts
  graders``). A worker that dies mid-task loses nothing: the scheduler reruns its tasks on
  another worker. The same engine reaches Slurm, PBS or Kubernetes through dask-jobqueue or
  dask-kubernetes: start their cluster and pass its scheduler address.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from tinytorch_grader import temp_folders

SKIPPED_PARTS = {".git", ".venv", "__pycache__", ".tito"}
"""Folders of a submission that are never graded nor sent to a worker."""
POLL_SECONDS = 0.05
KILL_ROUNDS = 20
DEATH_SECONDS = 10.0
"""How long kill_tree waits for the processes it killed to be dead."""


@dataclass(frozen=True)
class Task:
    """One submission to grade: its name in RESULTS and where it is."""

    name: str
    submission: Path


Store = Callable[[Task, dict], None]
"""Called in the batch's own process, once per finished task, with its outcome."""


def grade_submission(archive: Path, submission: Path, owned: tuple[str, ...], name: str = "") -> dict:
    """Grade one submission with the bundle; never raises (a failure is an ``ungraded`` outcome)."""
    from coursetools.grade.submission import grade_with_bundle, report_path

    started = time.monotonic()
    outcome = {"name": name, "status": "graded", "reason": None, "results": None, "report": None,
               "submitted": {}, "worker": f"{socket.gethostname()}:{os.getpid()}"}
    with temp_folders.folder("tinytorch-batch-") as scratch:  # a killed worker's folder is swept later
        target = scratch / "results.json"
        try:
            outcome["results"] = grade_with_bundle(archive, submission, target)
            failure = grader_failure(outcome["results"])
            if failure:
                outcome.update(status="ungraded", reason=failure)
            report = report_path(target)
            if report.is_file():
                outcome["report"] = json.loads(report.read_text(encoding="utf-8"))
        except Exception as error:  # the grader itself failed: no score, a reason
            outcome.update(status="ungraded", reason=f"the grader failed: {type(error).__name__}: {error}",
                           report={"grading_error": traceback.format_exc()[-4000:]})
    outcome["submitted"] = owned_files(submission, owned)
    outcome["seconds"] = round(time.monotonic() - started, 3)
    return outcome


def grader_failure(results: dict) -> str | None:
    """Why these results are the grader's own failure (not the student's), or None.

    The runtime writes every test at 0 with output "**Not graded**: the autograder itself
    failed" when it crashes (``tinytorch_grader.run.grader_failure``); ``extra_data.grading_error``
    marks it too once the runtime sets it.
    """
    output = str(results.get("output") or "")
    if results.get("extra_data", {}).get("grading_error") or output.startswith("**Not graded**"):
        return "the grader failed, not the submission: " + output.split("\n")[0].replace("**Not graded**: ", "")[:300]
    return None


def owned_files(submission: Path, owned: tuple[str, ...]) -> dict[str, str]:
    """The text of the files the grader takes from the submission (for the report and similarity)."""
    from coursetools.grade.submission import place_submission
    from tinytorch_grader.intake import find_submitted

    found = {}
    try:
        with temp_folders.folder("tinytorch-batch-") as scratch:
            unpacked = scratch / "submission"
            place_submission(submission, unpacked)
            for relative in owned:
                path = find_submitted(relative, unpacked)
                if path is not None:
                    found[relative] = path.read_text(encoding="utf-8", errors="replace")
    except (OSError, zipfile.BadZipFile, ValueError):  # a damaged zip: nothing of this student to compare
        pass
    return found


class LocalPool:
    """``jobs`` worker processes on this machine."""

    def __init__(self, jobs: int = 2):
        self.jobs = max(1, jobs)

    def describe(self) -> str:
        return f"local pool, {self.jobs} worker process{'es' if self.jobs > 1 else ''}"

    def run(self, archive: Path, owned: tuple[str, ...], tasks: list[Task], store: Store) -> None:
        """Grade every task; on KeyboardInterrupt kill what runs, start nothing more, re-raise."""
        queue = list(enumerate(tasks))
        running: dict[subprocess.Popen, tuple[Task, Path]] = {}
        with tempfile.TemporaryDirectory(prefix="grade-batch-") as scratch:
            try:
                while queue or running:
                    while queue and len(running) < self.jobs:
                        with sigint_held():  # a worker started is a worker the finally below can kill
                            index, task = queue.pop(0)
                            out = Path(scratch) / f"outcome-{index}.json"
                            running[self._start(archive, owned, task, out)] = (task, out)
                    for process in [p for p in running if p.poll() is not None]:
                        task, out = running.pop(process)
                        store(task, self._outcome(task, process, out))
                    time.sleep(POLL_SECONDS)
            finally:
                for process in running:
                    kill_tree(process.pid)
                    process.wait()
                if running:  # a killed grader cannot remove its folders: do it for it
                    temp_folders.sweep()

    def _start(self, archive: Path, owned: tuple[str, ...], task: Task, out: Path) -> subprocess.Popen:
        command = [sys.executable, "-m", "coursetools.grade.engines", "--archive", str(archive), "--name", task.name,
                   "--submission", str(task.submission), "--out", str(out), *sum((["--owned", f] for f in owned), [])]
        return subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)

    @staticmethod
    def _outcome(task: Task, process: subprocess.Popen, out: Path) -> dict:
        try:
            return json.loads(out.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            how = describe_exit(process.returncode)
            return {"name": task.name, "status": "ungraded", "results": None, "report": None, "submitted": {},
                    "seconds": 0.0, "worker": f"{socket.gethostname()}:{process.pid}",
                    "reason": f"the grading worker {how} before reporting; rerun the batch to grade it again"}


class DaskEngine:
    """One task per submission on a Dask ``distributed`` scheduler at ``host:port``."""

    def __init__(self, scheduler: str, retries: int = 2):
        if not scheduler:
            raise ValueError("--engine dask needs --scheduler HOST:PORT (a running `dask scheduler`)")
        self.scheduler = scheduler if "://" in scheduler else f"tcp://{scheduler}"
        self.retries = retries

    def describe(self) -> str:
        return f"dask scheduler {self.scheduler}"

    def run(self, archive: Path, owned: tuple[str, ...], tasks: list[Task], store: Store) -> None:
        try:
            from distributed import Client, as_completed
        except ImportError as error:
            raise ValueError("--engine dask needs dask's distributed package: pip install 'dask[distributed]'") from error
        bundle = archive.read_bytes()  # inside each task, not scattered: a lost worker cannot lose it
        with Client(self.scheduler, timeout="20s") as client:
            futures = {}
            for task in tasks:
                future = client.submit(grade_packed, bundle, pack_submission(task.submission), owned, task.name,
                                       key=f"grade-{task.name}-{time.time_ns()}", retries=self.retries, pure=False)
                futures[future] = task
            try:
                for future in as_completed(futures):
                    task = futures[future]
                    try:
                        outcome = future.result()
                    except Exception as error:  # the task failed on every worker it was given
                        outcome = {"name": task.name, "status": "ungraded", "results": None, "report": None,
                                   "submitted": {}, "seconds": 0.0, "worker": "dask",
                                   "reason": f"the Dask task failed {self.retries + 1} times: {type(error).__name__}: {error}"}
                    store(task, outcome)
            finally:
                client.cancel(list(futures))


def grade_packed(bundle: bytes, submission_zip: bytes, owned: tuple[str, ...], name: str) -> dict:
    """``grade_submission`` on a worker that has only bytes: the bundle and the zipped submission."""
    with temp_folders.folder("tinytorch-batch-") as scratch:
        archive = scratch / "gradescope.zip"
        archive.write_bytes(bundle)
        submission = scratch / f"{name or 'submission'}.zip"
        submission.write_bytes(submission_zip)
        return grade_submission(archive, submission, tuple(owned), name)


def pack_submission(path: Path) -> bytes:
    """A submission folder as zip bytes (a .zip as it is), without git, venv or cache folders."""
    if path.is_file():
        return path.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(path.rglob("*")):
            relative = file.relative_to(path)
            if file.is_file() and not SKIPPED_PARTS & set(relative.parts):
                zf.write(file, relative.as_posix())
    return buffer.getvalue()


@contextmanager
def sigint_held():
    """Delay Ctrl-C until the block is done (a worker registered, a result folder moved whole).

    Blocking SIGINT in this thread (so the workers it starts inherit it blocked) is not enough:
    the kernel then hands the signal to another thread (Dask's event loop), and Python still runs
    its handler in the main thread, inside the block. So, in the main thread, the handler is also
    swapped for one that only notes the signal, which is raised again once the block is done (and
    then does what it would have done: KeyboardInterrupt, or nothing when SIGINT was ignored).
    """
    noted: list[int] = []
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda number, frame: noted.append(number)) if main else None
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        if main:
            signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)  # None: set outside Python
            if noted:
                signal.raise_signal(signal.SIGINT)


def make_engine(engine: str, *, jobs: int = 2, scheduler: str | None = None):
    if engine == "local":
        return LocalPool(jobs)
    if engine == "dask":
        return DaskEngine(scheduler or "")
    raise ValueError(f"unknown engine {engine!r}: use --engine local (the default) or --engine dask")


def describe_exit(returncode: int | None) -> str:
    """'was killed by SIGKILL' / 'exited with code 3': what is known, no guess."""
    if returncode is None:
        return "did not finish"
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


def kill_tree(pid: int) -> None:
    """SIGKILL a process and every descendant (found through /proc), until none is left, then wait
    until each is dead (SIGKILL takes effect asynchronously; what sweeps their folders next must not
    find them still running)."""
    signalled = set()
    for _ in range(KILL_ROUNDS):
        family = [pid, *descendants(pid)]
        alive = False
        for member in family:
            try:
                os.kill(member, signal.SIGKILL)
                signalled.add(member)
                alive = True
            except (ProcessLookupError, PermissionError):
                pass
        if not alive or not descendants(pid):
            break
        time.sleep(POLL_SECONDS)
    deadline = time.monotonic() + DEATH_SECONDS  # identity is None once a process has finished
    while any(temp_folders.identity(member) for member in signalled) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in _proc_entries():
        try:
            fields = (Path("/proc") / entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, frontier = [], [pid]
    while frontier:
        kids = children.get(frontier.pop(), [])
        found += kids
        frontier += kids
    return found


def _proc_entries() -> Iterable[str]:
    try:
        return [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def _worker_main(argv: list[str] | None = None) -> None:
    """``python -m coursetools.grade.engines``: one local worker; the outcome JSON goes to --out."""
    parser = argparse.ArgumentParser(prog="python -m coursetools.grade.engines")
    parser.add_argument("--archive", required=True)
    parser.add_argument("--submission", required=True)
    parser.add_argument("--name", default="")
    parser.add_argument("--owned", action="append", default=[])
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    outcome = grade_submission(Path(args.archive), Path(args.submission), tuple(args.owned), args.name)
    partial = Path(args.out + ".partial")
    partial.write_text(json.dumps(outcome), encoding="utf-8")
    os.replace(partial, args.out)


if __name__ == "__main__":
    _worker_main()
