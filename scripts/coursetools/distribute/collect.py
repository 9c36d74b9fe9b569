"""``make collect``: each student's last commit before their deadline, as a folder grade-batch reads.

For every roster student: fetch their repository (any git remote: GitHub, a school server, a bare
repository on disk) into a cache, take the last commit of ``main`` whose committer date is at or
before the student's deadline (the class deadline plus their roster extension), and export that
commit's files (``git archive``, no history) to ``DEST/<student_id>/``. ``DEST/submission_metadata.json``
records, per student: name, email, repository, the commit and its date, the deadline that applied,
how many commits came after it (ignored), and ``late``. With ``accept_late`` the newest commit is
taken instead and ``late`` says whether it came after the deadline.

A student with no commit before the deadline, or whose repository cannot be fetched, gets no folder
and ``"status": "missing"`` with the reason (the report lists them; they are not graded as 0).
Commit dates are what the student's git recorded: they date the work, they do not prove when it
was pushed (GitHub's push events do; compare them for a disputed case). An existing student
folder is replaced only by a newer collection of that same student (the folder is the
collection's, never the student's working copy).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from datetime import datetime, timezone
from pathlib import Path

from coursetools.distribute.roster import GitError, Student, load_roster, parse_deadline, read_repos, run_git

METADATA = "submission_metadata.json"
CACHE = ".repos"
BRANCH = "main"


def collect(students: list[Student], urls: dict[str, str], deadline: datetime, dest: Path, *,
            accept_late: bool = False) -> dict[str, dict]:
    """Export each student's submitted commit under dest; returns (and writes) the metadata."""
    dest.mkdir(parents=True, exist_ok=True)
    metadata = {}
    for student in students:
        record = {"name": student.name, "email": student.email, "github": student.github,
                  "deadline": student.deadline(deadline).isoformat()}
        url = urls.get(student.student_id) or student.repo_url
        if not url:
            record.update(status="missing", reason="no repository: run make distribute or give its URL in the roster")
        else:
            record["repo"] = url
            try:
                record.update(collect_one(student, url, student.deadline(deadline), dest, accept_late=accept_late))
            except GitError as error:
                record.update(status="missing", reason=f"could not fetch the repository: {error}")
        metadata[student.student_id] = record
        print(f"{student.student_id}: {describe(record)}")
    partial = dest / f"{METADATA}.partial"
    partial.write_text(json.dumps(metadata, indent=1), encoding="utf-8")
    os.replace(partial, dest / METADATA)
    return metadata


def collect_one(student: Student, url: str, deadline: datetime, dest: Path, *, accept_late: bool) -> dict:
    """Fetch, choose the commit, export it; the metadata fields of this student."""
    mirror = fetch(url, dest / CACHE / f"{student.student_id}.git")
    commits = history(mirror)
    if not commits:
        return {"status": "missing", "reason": f"the repository has no {BRANCH} branch"}
    on_time = [c for c in commits if c[1] <= deadline]
    after = [c for c in commits if c[1] > deadline]
    chosen = commits[0] if accept_late else (on_time[0] if on_time else None)
    if chosen is None:
        return {"status": "missing", "reason": f"no commit on {BRANCH} before the deadline {deadline.isoformat()}",
                "commits_after_deadline": len(after)}
    export(mirror, chosen[0], dest / student.student_id)
    return {"status": "collected", "commit": chosen[0], "submitted_at": chosen[1].isoformat(),
            "late": chosen[1] > deadline, "commits_after_deadline": 0 if accept_late else len(after),
            "collected_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def fetch(url: str, mirror: Path) -> Path:
    """A bare mirror of the repository, cloned once and fetched on later collections."""
    if (mirror / "HEAD").is_file():
        run_git("fetch", "-q", "--prune", url, "+refs/heads/*:refs/heads/*", cwd=mirror)
    else:
        mirror.parent.mkdir(parents=True, exist_ok=True)
        run_git("clone", "-q", "--bare", url, str(mirror))
    return mirror


def history(mirror: Path) -> list[tuple[str, datetime]]:
    """(sha, committer date) of main's first-parent history, newest first; [] without main."""
    try:
        text = run_git("log", "--first-parent", "--format=%H %cI", BRANCH, "--", cwd=mirror)
    except GitError:
        return []
    return [(sha, datetime.fromisoformat(date)) for sha, date in (line.split() for line in text.splitlines())]


def export(mirror: Path, sha: str, folder: Path) -> None:
    """The commit's files into folder (replacing a previous collection's copy), without .git."""
    staging = folder.with_name(f".{folder.name}.collecting")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    archive = _git_bytes(["archive", "--format=tar", sha], mirror)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(staging, filter="data")
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(staging, folder)


def _git_bytes(args: list[str], cwd: Path) -> bytes:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed: {done.stderr.decode(errors='replace').strip()[-1000:]}")
    return done.stdout


def describe(record: dict) -> str:
    if record["status"] != "collected":
        return f"missing ({record['reason']})"
    text = f"{record['commit'][:10]} of {record['submitted_at']}"
    if record["late"]:
        text += ", late"
    if record["commits_after_deadline"]:
        text += f", {record['commits_after_deadline']} later commit(s) ignored"
    return text


def main(*, roster: str, deadline: str, dest: str, repos: str | None = None, accept_late: bool = False) -> dict:
    students = load_roster(Path(roster))
    urls = read_repos(Path(repos)) if repos else {}
    found = collect(students, urls, parse_deadline(deadline), Path(dest), accept_late=accept_late)
    collected = sum(r["status"] == "collected" for r in found.values())
    print(f"{collected} of {len(found)} submissions collected into {dest} (grade them: make grade-batch "
          f"SUBMISSIONS={dest})")
    return found


def register(verbs) -> None:
    """The ``collect`` verb of ``python -m coursetools``."""
    verb = verbs.add_parser("collect", help="each student's last commit before their deadline, for grade-batch")
    verb.add_argument("--roster", required=True, help="CSV: student_id,github,name,email[,extension]")
    verb.add_argument("--deadline", required=True, help="ISO 8601 with timezone, e.g. 2026-10-01T23:59:00-07:00")
    verb.add_argument("--dest", required=True, help="the submissions folder to write (then make grade-batch)")
    verb.add_argument("--repos", help="repos.csv from make distribute (else the roster's URLs)")
    verb.add_argument("--accept-late", action="store_true", help="take the newest commit, marking it late if it is")
    verb.set_defaults(run=lambda a: main(roster=a.roster, deadline=a.deadline, dest=a.dest, repos=a.repos,
                                         accept_late=a.accept_late))
