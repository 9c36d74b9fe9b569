"""``make grade-batch``: grade a folder of submissions with the module's bundle, in parallel.

Each entry of SUBMISSIONS (a folder or a .zip) is graded in its own throwaway autograder
tree, exactly like ``make grade``; its results.json and report.json go to
``RESULTS/<name>/``. Already graded submissions are skipped unless ``force``, so an
interrupted batch resumes where it stopped. A submission that breaks its grading worker gets
a results.json saying so, and the batch goes on.
"""

from __future__ import annotations

import json
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from coursetools.bundle import build_bundles
from coursetools.grade import grade_with_bundle
from coursetools.manifest import load_course


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
    todo, scores = [], {}
    for path in find_submissions(Path(submissions)):
        target = out / submission_name(path) / "results.json"
        if target.is_file() and not force:
            scores[submission_name(path)] = json.loads(target.read_text())["score"]
        else:
            todo.append((path, target))
    print(f"{len(todo)} to grade, {len(scores)} already graded (use FORCE=1 to regrade)")
    with _progress(len(todo)) as advance, ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(grade_one, archive, path, target): path for path, target in todo}
        for future in as_completed(futures):
            name = submission_name(futures[future])
            scores[name] = future.result()
            advance(f"{name}: {scores[name]:g}")
    return scores


def grade_one(archive: Path, submission: Path, target: Path) -> float:
    """Grade one submission; never raises (a failure becomes a results.json with the error)."""
    try:
        return grade_with_bundle(archive, submission, target)["score"]
    except Exception:
        target.parent.mkdir(parents=True, exist_ok=True)
        error = {"score": 0.0, "execution_time": 0.0, "tests": [],
                 "output": "Grading this submission failed before results were written:\n\n```\n"
                           + traceback.format_exc()[-2000:] + "\n```",
                 "extra_data": {"grading_error": True}}
        target.write_text(json.dumps(error, indent=1), encoding="utf-8")
        return 0.0


class _progress:
    """A rich progress bar when available, plain lines otherwise; yields an advance(text) function."""

    def __init__(self, total: int):
        self.total, self.done, self.bar = total, 0, None

    def __enter__(self):
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
