"""The class roster and the student repositories made from a module's skeleton (no Classroom).

A roster is a CSV with a header row::

    student_id,github,name,email,extension
    s001,alice-gh,Alice Adams,alice@example.edu,
    s002,https://git.example.edu/bob/tinytorch-01.git,Bob Brown,bob@example.edu,2d

``github`` is a GitHub user (a repository is made for them from the template) or the URL of a
repository the student already has (any git remote). ``extension`` is optional: a duration
(``36h``, ``2d``, ``90m``) added to the deadline, or an absolute ISO 8601 deadline with its
timezone. ``make distribute`` creates one repository per student from the skeleton and gives the
student write access, through a **host**:

- ``GitHubHost(token)``: GitHub's REST API. ``POST /repos/{template}/generate`` makes the
  repository from the skeleton pushed as a template repository, ``PUT
  /repos/{org}/{repo}/collaborators/{user}`` invites the student with push access. The token:
  a fine-grained token on the organisation with repository permissions *Administration: read
  and write* (create repositories, add collaborators), *Contents: read* (the template) and
  *Metadata: read*; or a classic token with the ``repo`` scope (plus ``admin:org`` only if the
  organisation restricts repository creation to owners).
- ``BareRepoHost(folder)``: bare repositories under a folder (a school's git server, a shared
  disk, the tests), the skeleton's history pushed into each; collaborators are recorded in
  ``collaborators.json`` (access control is the server's job there).

Creating is idempotent: a repository that already exists is left as it is (never overwritten,
the student may have pushed work). ``distribute`` writes ``repos.csv`` (student_id, repo_url)
for ``make collect``.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

COLUMNS = ("student_id", "github", "name", "email")
OPTIONAL = ("extension",)
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
GITHUB_USER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([dhm])")
UNITS = {"d": "days", "h": "hours", "m": "minutes"}


class RosterError(ValueError):
    """The roster cannot be used as written; the message names the line and the fix."""


class GitError(ValueError):
    """A git command failed; the message carries git's own words."""


@dataclass(frozen=True)
class Student:
    student_id: str
    github: str
    """A GitHub user name, or a repository URL (then no repository is created)."""
    name: str
    email: str
    extension: str = ""

    @property
    def repo_url(self) -> str | None:
        return self.github if is_url(self.github) else None

    def deadline(self, base: datetime) -> datetime:
        """This student's deadline: base plus the extension (or the extension's own date)."""
        return apply_extension(base, self.extension)


def is_url(text: str) -> bool:
    return "://" in text or text.startswith("git@") or text.startswith("/") or text.endswith(".git")


def load_roster(path: Path) -> list[Student]:
    """Read and check the roster; every problem names its line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"roster {path} does not exist; write a CSV with columns {', '.join(COLUMNS)}")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise RosterError(f"{path}: the header lacks {', '.join(missing)}; the columns are "
                              f"{', '.join(COLUMNS)} and optionally extension")
        students, seen = [], {}
        for line, row in enumerate(reader, start=2):
            student = _student(path, line, row)
            if student.student_id in seen:
                raise RosterError(f"{path}:{line}: student_id {student.student_id!r} already on line "
                                  f"{seen[student.student_id]}; every student needs a distinct id")
            seen[student.student_id] = line
            students.append(student)
    if not students:
        raise RosterError(f"{path}: no students below the header")
    return students


def _student(path: Path, line: int, row: dict) -> Student:
    values = {key: (row.get(key) or "").strip() for key in (*COLUMNS, *OPTIONAL)}
    if not SAFE_ID.fullmatch(values["student_id"]):
        raise RosterError(f"{path}:{line}: student_id {values['student_id']!r} must be 1-64 letters, digits, "
                          "'.', '_' or '-' (it names the student's folder)")
    if not values["github"]:
        raise RosterError(f"{path}:{line}: github is empty; give the student's GitHub user or their repository URL")
    if not is_url(values["github"]) and not GITHUB_USER.fullmatch(values["github"]):
        raise RosterError(f"{path}:{line}: github {values['github']!r} is neither a GitHub user name nor a URL")
    try:
        apply_extension(datetime.now().astimezone(), values["extension"])
    except ValueError as error:
        raise RosterError(f"{path}:{line}: {error}") from None
    return Student(**values)


def parse_deadline(text: str) -> datetime:
    """An ISO 8601 date-time that names its timezone (a deadline without one is ambiguous)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"deadline {text!r} is not an ISO 8601 date-time; write e.g. 2026-10-01T23:59:00-07:00") from None
    if moment.tzinfo is None:
        raise ValueError(f"deadline {text!r} has no timezone; add one, e.g. {text}+00:00 or {text}-07:00")
    return moment


def apply_extension(base: datetime, extension: str) -> datetime:
    """base + '36h' / '2d' / '90m', or the extension itself when it is a date-time."""
    extension = (extension or "").strip()
    if not extension:
        return base
    found = DURATION.fullmatch(extension)
    if found:
        return base + timedelta(**{UNITS[found[2]]: float(found[1])})
    try:
        return parse_deadline(extension)
    except ValueError:
        raise ValueError(f"extension {extension!r} is neither a duration (36h, 2d, 90m) nor an ISO 8601 "
                         "date-time with a timezone") from None


def repo_name(prefix: str, student: Student) -> str:
    return f"{prefix}-{student.github}"


class RepoHost(Protocol):
    """Where student repositories live; the GitHub API is one, a folder of bare repos another."""

    def exists(self, owner: str, name: str) -> bool: ...

    def create_from_template(self, template: str, owner: str, name: str) -> str:
        """Make owner/name from the template; returns its clone URL."""

    def add_collaborator(self, owner: str, name: str, user: str) -> None: ...

    def clone_url(self, owner: str, name: str) -> str: ...


class BareRepoHost:
    """Bare git repositories under ``folder/<owner>/<name>.git``; the template is a local repository."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def clone_url(self, owner: str, name: str) -> str:
        return str(self.folder / owner / f"{name}.git")

    def exists(self, owner: str, name: str) -> bool:
        return Path(self.clone_url(owner, name)).is_dir()

    def create_from_template(self, template: str, owner: str, name: str) -> str:
        target = Path(self.clone_url(owner, name))
        target.parent.mkdir(parents=True, exist_ok=True)
        run_git("init", "-q", "--bare", "-b", "main", str(target))
        run_git("push", "-q", str(target), "main:main", cwd=Path(template))
        return str(target)

    def add_collaborator(self, owner: str, name: str, user: str) -> None:
        record = self.folder / owner / "collaborators.json"
        granted = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {}
        granted.setdefault(name, [])
        if user not in granted[name]:
            granted[name].append(user)
        record.write_text(json.dumps(granted, indent=1, sort_keys=True), encoding="utf-8")


class GitHubHost:
    """GitHub's REST API (``template`` is ``owner/repo`` of the skeleton pushed as a template repository)."""

    API = "https://api.github.com"

    def __init__(self, token: str, private: bool = True):
        if not token:
            raise ValueError("the GitHub host needs a token (GITHUB_TOKEN): fine-grained with Administration "
                             "read/write, Contents read and Metadata read on the organisation, or classic with repo")
        self.token, self.private = token, private

    def clone_url(self, owner: str, name: str) -> str:
        return f"https://github.com/{owner}/{name}.git"

    def exists(self, owner: str, name: str) -> bool:
        try:
            self.request("GET", f"/repos/{owner}/{name}")
            return True
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return False
            raise

    def create_from_template(self, template: str, owner: str, name: str) -> str:
        body = {"owner": owner, "name": name, "private": self.private, "include_all_branches": False,
                "description": "TinyTorch: your repository for this module"}
        return self.request("POST", f"/repos/{template}/generate", body)["clone_url"]

    def add_collaborator(self, owner: str, name: str, user: str) -> None:
        self.request("PUT", f"/repos/{owner}/{name}/collaborators/{user}", {"permission": "push"})

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.API + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "tinytorch-coursetools"})
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
        return json.loads(text) if text.strip() else {}


def distribute(students: list[Student], host: RepoHost, *, template: str, owner: str, prefix: str) -> dict[str, str]:
    """One repository per student made from the template (existing ones kept); {student_id: repo URL}."""
    urls = {}
    for student in students:
        if student.repo_url:
            urls[student.student_id] = student.repo_url
            continue
        name = repo_name(prefix, student)
        if host.exists(owner, name):
            urls[student.student_id] = host.clone_url(owner, name)
            print(f"{student.student_id}: {owner}/{name} exists, kept as it is")
            continue
        urls[student.student_id] = host.create_from_template(template, owner, name)
        host.add_collaborator(owner, name, student.github)
        print(f"{student.student_id}: created {owner}/{name} for {student.github}")
    return urls


def write_repos(urls: dict[str, str], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "repo_url"])
        writer.writerows(sorted(urls.items()))


def read_repos(path: Path) -> dict[str, str]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["student_id"]: row["repo_url"] for row in csv.DictReader(handle)}


def make_host(host: str, token: str | None = None) -> RepoHost:
    """``github`` (the REST API, token from --token or GITHUB_TOKEN) or a folder of bare repositories."""
    if host == "github":
        return GitHubHost(token or os.environ.get("GITHUB_TOKEN", ""))
    return BareRepoHost(Path(host))


def main(*, roster: str, template: str, owner: str, prefix: str, host: str = "github", out: str = "repos.csv",
         token: str | None = None) -> dict[str, str]:
    """``make distribute``: repositories for the roster from the template; writes repos.csv."""
    urls = distribute(load_roster(Path(roster)), make_host(host, token), template=template, owner=owner, prefix=prefix)
    write_repos(urls, Path(out))
    print(f"{len(urls)} repositories: {out}")
    return urls


def register(verbs) -> None:
    """The ``distribute`` verb of ``python -m coursetools``."""
    verb = verbs.add_parser("distribute", help="one repository per roster student, made from the skeleton template")
    verb.add_argument("--roster", required=True, help="CSV: student_id,github,name,email[,extension]")
    verb.add_argument("--template", required=True,
                      help="the skeleton: owner/repo of a GitHub template repository, or a local git repository")
    verb.add_argument("--owner", required=True, help="organisation (or folder under --host) the repositories go in")
    verb.add_argument("--prefix", required=True, help="repository names are PREFIX-<github user>, e.g. tinytorch-01")
    verb.add_argument("--host", default="github", help="github (REST API, GITHUB_TOKEN) or a folder of bare repositories")
    verb.add_argument("--out", default="repos.csv", help="student_id,repo_url for make collect")
    verb.set_defaults(run=lambda a: main(roster=a.roster, template=a.template, owner=a.owner, prefix=a.prefix,
                                         host=a.host, out=a.out))


def run_git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed: {done.stderr.strip()[-1000:]}")
    return done.stdout
