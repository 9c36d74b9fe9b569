"""Grade a submission locally exactly as Gradescope would.

Unzips the module's gradescope.zip into a throwaway ``autograder/`` tree
(source/, submission/, results/), copies the submission in, and runs the bundle's own
``run_autograder`` with this Python. The local path is the production path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tinytorch_grader import intake, temp_folders

from coursetools.manifest import load_course


def main(*, module: str, submission: str, results: str | None = None, dist: str = "dist",
         rebuild: bool = False, quiet: bool = False) -> dict:
    """Grade SUBMISSION (a folder or a .zip) for MODULE; returns the results.json data.

    Writes results.json (default dist/results/NN_slug/results.json) and report.json beside it.
    """
    require_submission(Path(submission))
    course = load_course()
    mod = course.module(module)
    archive = Path(dist) / "graders" / mod.dirname / "gradescope.zip"
    if rebuild or not archive.is_file():
        from coursetools.release.bundle import build_bundles

        build_bundles(course, mod, Path(dist))
    target = Path(results) if results else Path(dist) / "results" / mod.dirname / "results.json"
    data = grade_with_bundle(archive, Path(submission), target)
    if not quiet:
        print_summary(data, target)
    return data


def grade_with_bundle(archive: Path, submission: Path, target: Path) -> dict:
    """Run the bundle on one submission in a fresh autograder tree; copy the results to target."""
    require_submission(submission)
    with temp_folders.folder("tinytorch-autograder-") as root:
        with zipfile.ZipFile(archive) as zf:
            extract_with_modes(zf, root / "source")
        place_submission(submission, root / "submission")
        (root / "results").mkdir()
        env = {**os.environ, "AUTOGRADER_DIR": str(root), "GRADER_PYTHON": sys.executable}
        done = subprocess.run([str(root / "source" / "run_autograder")], env=env, cwd=root, check=False,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # the runner names its own throwaway results folder: name the copy that stays instead
        print(done.stdout.replace(str(root / "results"), str(target.parent)), end="")
        written = root / "results" / "results.json"
        if not written.is_file():
            raise FileNotFoundError(f"run_autograder of {archive} exited with code {done.returncode} without "
                                    "writing results.json (its output is above); rebuild the bundle with --rebuild")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(written, target)
        report = root / "results" / "report.json"
        if report.is_file():
            shutil.copyfile(report, report_path(target))
    return json.loads(target.read_text(encoding="utf-8"))


def require_submission(submission: Path) -> None:
    if not submission.exists():
        raise FileNotFoundError(f"submission {submission} does not exist; pass a folder or a .zip")


def report_path(results: Path) -> Path:
    """Where the pytest JSON report goes beside a results file."""
    if results.name == "results.json":
        return results.with_name("report.json")
    return results.with_name(results.stem + ".report.json")


def extract_with_modes(zf: zipfile.ZipFile, dest: Path) -> None:
    """Unzip keeping Unix permission bits (Python's extractall drops them)."""
    for info in zf.infolist():
        path = Path(zf.extract(info, dest))
        mode = info.external_attr >> 16 & 0o777
        if mode:
            path.chmod(mode)


def place_submission(submission: Path, dest: Path) -> list[str]:
    """Put a submission where Gradescope would (``dest``): a folder copied, a zip expanded under
    the grader's caps (``tinytorch_grader.intake``), a single file as it is. Symlinks and special
    files are never taken; returns one line for each left out (also printed on stderr).
    Raises intake.RefusedSubmission for a zip bomb or an oversized submission."""
    if submission.is_dir():
        refused = intake.copy_folder(submission, dest)
    elif zipfile.is_zipfile(submission):
        dest.mkdir(parents=True)
        refused = intake.extract_zip(submission, dest)
    else:
        dest.mkdir()
        intake.copy_regular(submission, dest / submission.name)
        refused = []
    for line in refused:
        print(f"{submission}: left out {line}", file=sys.stderr)
    return refused


def print_summary(data: dict, target: Path) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # rich is a toolchain dependency; keep plain output working anyway
        for test in data["tests"]:
            print(f"{test['score']:>6g} / {test['max_score']:<6g} {test['name']}")
        print(f"score {data['score']:g} / {data['extra_data']['max_score']:g} -> {target}")
        return
    table = Table(title=f"{target}")
    for column in ("#", "test", "score", "visibility"):
        table.add_column(column)
    for test in data["tests"]:
        style = "green" if test["status"] == "passed" else "red"
        table.add_row(test.get("number", ""), test["name"], f"{test['score']:g} / {test['max_score']:g}",
                      test["visibility"], style=style)
    console = Console()
    console.print(table)
    console.print(f"[bold]score {data['score']:g} / {data['extra_data']['max_score']:g}[/bold]")
