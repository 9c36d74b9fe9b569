"""``make grade-batch``: grade a folder of submissions with the module's bundle, resumably.

Each entry of SUBMISSIONS (a folder or a .zip) is graded in its own throwaway autograder tree,
exactly like ``make grade``, by an engine (``coursetools.grade.engines``: a local pool of worker
processes by default, or a Dask cluster). What the batch writes, per submission, into
``RESULTS/<name>/``:

- graded: ``results.json`` and ``report.json`` (the grader's), ``submitted/`` (the files the
  student owns, for the report and the similarity check) and ``status.json``;
- ungraded (the grader itself failed, or its worker died): ``status.json`` with
  ``"status": "ungraded"`` and the reason, never a score; a rerun grades it again.

Each submission's folder is built aside (``RESULTS/.staging/``) and moved into place in one
rename, with Ctrl-C held off for that instant, so an interrupted batch leaves complete folders
or none. ``RESULTS/index.json`` lists every submission as graded (score), ungraded (reason) or
pending, after every stored result. Ctrl-C stops the queue at once, kills the running workers
and exits with 130 and one line saying how to resume: rerunning the same command grades exactly
what is not graded yet (``force`` regrades everything). ``RESULTS/_starter/`` holds the starter
files (the similarity check's boilerplate); a ``submission_metadata.json`` in SUBMISSIONS (from
``make collect`` or a Gradescope export) is copied to ``RESULTS/_metadata.json`` for the report.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from coursetools.grade.engines import Task, make_engine, sigint_held
from coursetools.manifest import load_course
from coursetools.release.bundle import build_bundles
from coursetools.release.skeleton import starter_text

STARTER = "_starter"
"""RESULTS/_starter/ holds the module's starter files: boilerplate for the similarity check."""
METADATA = "submission_metadata.json"
"""Names, emails, submission times and late status, beside the submissions (see coursetools.distribute.collect)."""
STAGING = ".staging"
INDEX = "index.json"
STATUS = "status.json"


def submission_name(path: Path) -> str:
    return path.stem if path.suffix == ".zip" else path.name


def find_submissions(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"submissions folder {folder} does not exist")
    return sorted(p for p in folder.iterdir()
                  if (p.is_dir() or p.suffix == ".zip") and not p.name.startswith((".", "_")))


def main(*, module: str, submissions: str, results: str, jobs: int = 2, force: bool = False,
         dist: str = "dist", engine: str = "local", scheduler: str | None = None) -> dict[str, float | None]:
    """Grade every submission not graded yet; returns {name: score, or None when ungraded}."""
    course = load_course()
    mod = course.module(module)
    runner = make_engine(engine, jobs=jobs, scheduler=scheduler)
    archive = build_bundles(course, mod, Path(dist).resolve())["gradescope"]
    out = Path(results)
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / STAGING, ignore_errors=True)
    write_starter(course, mod, out / STARTER)
    copy_metadata(Path(submissions), out)
    found = find_submissions(Path(submissions))
    todo = [Task(submission_name(p), p) for p in found if force or finished_score(out / submission_name(p)) is None]
    print(f"{len(todo)} to grade, {len(found) - len(todo)} already graded (FORCE=1 regrades them); {runner.describe()}")
    names = [submission_name(p) for p in found]
    write_index(out, mod.number, names)
    progress = Progress(len(todo))

    def store(task: Task, outcome: dict) -> None:
        with sigint_held():
            store_outcome(out, task.name, outcome)
            write_index(out, mod.number, names)
        progress.advance(task.name, outcome)

    try:
        runner.run(archive, mod.files, todo, store)
    except KeyboardInterrupt:
        left = len(todo) - progress.done
        print(f"\nstopped: {progress.done} graded this run, {left} not graded yet (nothing half-written); "
              "run the same command again to grade the rest", flush=True)
        raise SystemExit(130) from None
    progress.finish(runner.describe())
    return {name: finished_score(out / name) for name in names}


def finished_score(folder: Path) -> float | None:
    """The score of an earlier, complete grading of this submission; None when it must be graded."""
    try:
        data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        status = json.loads((folder / STATUS).read_text(encoding="utf-8")) if (folder / STATUS).is_file() else {}
    except (OSError, ValueError):
        return None
    if status.get("status", "graded") != "graded" or data.get("extra_data", {}).get("grading_error"):
        return None
    return data.get("score")


def store_outcome(out: Path, name: str, outcome: dict) -> Path:
    """Write the outcome as RESULTS/<name>/ in one rename (an older folder is replaced whole)."""
    staging = out / STAGING / name
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    status = {key: outcome.get(key) for key in ("status", "reason", "seconds", "worker")}
    status["stored_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if outcome["status"] == "graded":
        status["score"] = outcome["results"]["score"]
        (staging / "results.json").write_text(json.dumps(outcome["results"], indent=1), encoding="utf-8")
    if outcome.get("report") is not None:
        (staging / "report.json").write_text(json.dumps(outcome["report"], indent=1), encoding="utf-8")
    for relative, text in outcome.get("submitted", {}).items():
        (staging / "submitted" / relative).parent.mkdir(parents=True, exist_ok=True)
        (staging / "submitted" / relative).write_text(text, encoding="utf-8")
    (staging / STATUS).write_text(json.dumps(status, indent=1), encoding="utf-8")
    final, old = out / name, out / STAGING / f"{name}.old"
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def write_index(out: Path, module: str, names: list[str]) -> None:
    """RESULTS/index.json: every submission graded (score), ungraded (reason) or pending."""
    entries = {}
    for name in names:
        folder = out / name
        try:
            status = json.loads((folder / STATUS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            status = {}
        score = finished_score(folder)
        if score is not None:
            entries[name] = {"status": "graded", "score": score, "seconds": status.get("seconds")}
        elif status.get("status") == "ungraded":
            entries[name] = {"status": "ungraded", "score": None, "reason": status.get("reason")}
        else:
            entries[name] = {"status": "pending", "score": None}
    partial = out / f"{INDEX}.partial"
    partial.write_text(json.dumps({"module": module, "submissions": entries}, indent=1), encoding="utf-8")
    os.replace(partial, out / INDEX)


def copy_metadata(submissions: Path, out: Path) -> None:
    source = submissions / METADATA
    if source.is_file():
        shutil.copyfile(source, out / "_metadata.json")


def write_starter(course, module, folder: Path) -> None:
    """The module's starter files as students receive them, the boilerplate every submission shares."""
    for relative in module.files:
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(starter_text(course, module, relative), encoding="utf-8")


class Progress:
    """One line per finished submission, then the throughput."""

    def __init__(self, total: int):
        self.total, self.done, self.started = total, 0, time.monotonic()

    def advance(self, name: str, outcome: dict) -> None:
        self.done += 1
        if outcome["status"] == "graded":
            text = f"{outcome['results']['score']:g}"
        else:
            text = f"ungraded: {outcome['reason']}"
        print(f"[{self.done}/{self.total}] {name}: {text} ({outcome.get('seconds', 0):.1f} s)", flush=True)

    def finish(self, engine: str) -> None:
        elapsed = time.monotonic() - self.started
        if self.done:
            print(f"graded {self.done} submissions in {elapsed:.1f} s: {60 * self.done / elapsed:.1f} per minute "
                  f"({engine})", flush=True)
