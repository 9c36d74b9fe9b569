"""The git side of a release: commits you can push again onto a template in use.

A repository step of the release (``coursetools.release.pipeline.REPOSITORY``) writes a folder from
scratch; ``commit_on_history`` runs them and commits the result so that

- the same content gives the same commit: fixed author, committer and dates (``SOURCE_DATE_EPOCH``
  when set, else 2020-01-01, the date of the zips' entries), a message without dates, notebook
  cell ids derived from the content (nbformat draws them at random);
- changed content gives one new commit on top of the previous release's, when ``dist/`` still
  holds it (or when the pushed template was cloned there: ``git clone URL dist/skeletons/NN_slug``),
  so ``git push`` fast-forwards the template and the student repositories made from it can merge;
- the solutions repository says what it is: a banner at the top of its README (``mark_solutions``).

``keep_history`` moves the previous release's ``.git`` aside before the build wipes the folder;
``commit_release`` puts it back and commits (or not) on top.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

GIT_AUTHOR = {"GIT_AUTHOR_NAME": "TinyTorch Course", "GIT_AUTHOR_EMAIL": "course@example.invalid",
              "GIT_COMMITTER_NAME": "TinyTorch Course", "GIT_COMMITTER_EMAIL": "course@example.invalid"}
FIXED_DATE = "2020-01-01T00:00:00+00:00"
SOLUTIONS_BANNER = (
    "> **This is the SOLUTIONS repository of {label}: instructors only.** It holds the reference\n"
    "> implementation. Never make it public, never use it as a template for students: students get\n"
    "> the skeleton repository.\n\n"
)


def commit_on_history(dest: Path, message: str, build: Callable[[], None]) -> Path:
    """Run build (which rewrites dest from scratch) and commit dest on top of its previous release."""
    previous = keep_history(dest)
    try:
        build()
    except Exception:
        if previous is not None:  # keep the history for the next attempt
            shutil.rmtree(dest / ".git", ignore_errors=True)
            dest.mkdir(parents=True, exist_ok=True)
            os.replace(previous, dest / ".git")
        raise
    commit_release(dest, message, previous)
    return dest


def keep_history(dest: Path) -> Path | None:
    """Move dest/.git out of the way (the build rewrites dest); returns where it went, or None."""
    git_dir = dest / ".git"
    if not (git_dir / "HEAD").is_file():
        return None
    aside = dest.parent / f".{dest.name}.previous-git"
    shutil.rmtree(aside, ignore_errors=True)
    os.replace(git_dir, aside)
    return aside


def commit_release(dest: Path, message: str, previous: Path | None) -> tuple[str, bool]:
    """Commit dest's content on top of the previous release; (commit sha, whether it is new)."""
    stable_notebook_ids(dest)
    shutil.rmtree(dest / ".git", ignore_errors=True)
    if previous is not None:
        os.replace(previous, dest / ".git")
    else:
        _git(dest, "init", "-q", "-b", "main")
    _git(dest, "add", "-A")
    head = _git(dest, "rev-parse", "--verify", "-q", "HEAD", check=False).strip()
    if head and _git(dest, "diff", "--cached", "--quiet", "HEAD", check=False, status=True) == 0:
        return head, False
    _git(dest, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", message, env=_fixed_identity())
    return _git(dest, "rev-parse", "HEAD").strip(), True


def mark_solutions(dest: Path, label: str) -> None:
    """Put the solutions banner at the top of the repository's README."""
    readme = dest / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    banner = SOLUTIONS_BANNER.format(label=label)
    if not text.startswith(banner):
        readme.write_text(banner + text, encoding="utf-8")


def stable_notebook_ids(dest: Path) -> None:
    """Give every notebook cell an id derived from its notebook, position and source."""
    for notebook in sorted(dest.rglob("*.ipynb")):
        if ".git" in notebook.relative_to(dest).parts:
            continue
        data = json.loads(notebook.read_text(encoding="utf-8"))
        relative = notebook.relative_to(dest).as_posix()
        for index, cell in enumerate(data.get("cells", [])):
            if "id" in cell:
                source = "".join(cell.get("source", []))
                cell["id"] = hashlib.sha1(f"{relative}:{index}:{source}".encode()).hexdigest()[:8]
        stamp = notebook.stat()
        notebook.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
        os.utime(notebook, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # jupytext compares the pair's times


def _fixed_identity() -> dict:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    date = f"@{int(epoch)} +0000" if epoch else FIXED_DATE
    return {**os.environ, **GIT_AUTHOR, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}


def _git(repo: Path, *args: str, check: bool = True, status: bool = False, env: dict | None = None):
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env)
    if status:
        return done.returncode
    if check and done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} in {repo} failed: {done.stderr.strip()[-1000:]}")
    return done.stdout
