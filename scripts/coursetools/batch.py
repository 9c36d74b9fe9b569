"""``make grade-batch``: grade a folder of submissions with the module's bundle, in parallel.

Each entry of SUBMISSIONS (a folder or a .zip) is graded in its own throwaway autograder
tree, exactly like ``make grade``; its results.json and report.json go to
``RESULTS/<name>/``, with a copy of the files the student owns in ``RESULTS/<name>/submitted/``
(and the starter code once in ``RESULTS/_starter/``) so ``make report`` can look for similar
submissions. Already graded submissions are skipped unless ``force``, so an interrupted batch
resumes where it stopped; a results.json that cannot be read, or that records a grading error,
is graded again. A submission that breaks its grading worker gets a results.json and a
report.json saying so, and the batch goes on.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from coursetools.bundle import build_bundles
from coursetools.grade import grade_with_bundle, place_submission, report_path
from coursetools.manifest import load_course
from coursetools.skeleton import render_file
from coursetools.tito.notebook import with_cell_markers
from tinytorch_grader.run import find_submitted

STARTER = "_starter"
"""RESULTS/_starter/ holds the module's starter files: boilerplate for the similarity check."""


def submission_name(path: Path) -> str:
    return path.stem if path.suffix == ".zip" else path.name


def find_submissions(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"submissions folder {folder} does not exist")
    return sorted(p for p in folder.iterdir() if (p.is_dir() or p.suffix == ".zip") and not p.name.startswith("."))


def main(*, module: str, submissions: str, results: str, jobs: int = 2, force: bool = False,
         dist: str = "dist") -> dict[str, float]:
    """Grade every submission; returns {name: score}."""
    course = load_course()
    mod = course.module(module)
    archive = build_bundles(course, mod, Path(dist).resolve())["gradescope"]
    out = Path(results)
    write_starter(course, mod, out / STARTER)
    todo, scores = [], {}
    for path in find_submissions(Path(submissions)):
        target = out / submission_name(path) / "results.json"
        done = None if force else finished_score(target)
        if done is None:
            todo.append((path, target))
        else:
            scores[submission_name(path)] = done
    print(f"{len(todo)} to grade, {len(scores)} already graded (use FORCE=1 to regrade)")
    with _progress(len(todo)) as advance, ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(grade_one, archive, path, target, mod.files): path for path, target in todo}
        for future in as_completed(futures):
            name = submission_name(futures[future])
            scores[name] = future.result()
            advance(f"{name}: {scores[name]:g}")
    return scores


def finished_score(target: Path) -> float | None:
    """The score of an earlier, complete grading of this submission; None when it must be graded."""
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("extra_data", {}).get("grading_error") or "score" not in data:
        return None
    return data["score"]


def write_starter(course, module, folder: Path) -> None:
    """The module's starter files as students receive them, the boilerplate every submission shares."""
    for relative in module.files:
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(with_cell_markers(render_file(course, module, relative, "skeleton")), encoding="utf-8")


def keep_owned_files(submission: Path, owned: tuple[str, ...], folder: Path) -> None:
    """Copy the files the grader takes from this submission into folder (for the similarity check)."""
    with tempfile.TemporaryDirectory(prefix="batch-owned-") as scratch:
        unpacked = Path(scratch) / "submission"
        place_submission(submission, unpacked)
        for relative in owned:
            found = find_submitted(relative, unpacked)
            if found is not None:
                (folder / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(found, folder / relative)


def grade_one(archive: Path, submission: Path, target: Path, owned: tuple[str, ...] = ()) -> float:
    """Grade one submission; never raises (a failure becomes a results.json and report.json with the error)."""
    try:
        score = grade_with_bundle(archive, submission, target)["score"]
    except Exception:
        trace = traceback.format_exc()[-2000:]
        target.parent.mkdir(parents=True, exist_ok=True)
        error = {"score": 0.0, "execution_time": 0.0, "tests": [],
                 "output": "Grading this submission failed before results were written:\n\n```\n" + trace + "\n```",
                 "extra_data": {"grading_error": True}}
        target.write_text(json.dumps(error, indent=1), encoding="utf-8")
        report = {"exitcode": None, "summary": {"total": 0}, "tests": [], "collectors": [],
                  "grading_error": trace}
        report_path(target).write_text(json.dumps(report, indent=1), encoding="utf-8")
        score = 0.0
    try:
        keep_owned_files(submission, owned, target.parent / "submitted")
    except Exception:  # a damaged zip: the similarity check just has nothing of this student
        pass
    return score


class _progress:
    """A rich progress bar when available, plain lines otherwise; yields an advance(text) function."""

    def __init__(self, total: int):
        self.total, self.done, self.bar = total, 0, None

    def __enter__(self):
        if not sys.stdout.isatty():  # piped or in a log: one plain line per submission
            return self.advance
        try:
            from rich.progress import Progress

            self.bar = Progress()
            self.bar.start()
            self.task = self.bar.add_task("grading", total=self.total)
        except ImportError:
            self.bar = None
        return self.advance

    def advance(self, text: str) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=text)
        else:
            print(f"[{self.done}/{self.total}] {text}")

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
