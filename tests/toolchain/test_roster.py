"""Roster -> repositories from the skeleton -> deadline collect -> grade-batch -> report, on local bare repos.

Four students: alice pushes the solution on time, then a broken commit after the deadline (ignored);
bob pushes the solution after the class deadline but inside his 2-day extension; carol never
pushes (her repository still holds the starter, graded 0); dave's roster URL does not exist
(missing, not graded). The GitHub API is replaced by ``BareRepoHost``; ``GitHubHost`` is checked
against a recorded transport for the calls it makes.
"""

import csv
import json
import os
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from coursetools.distribute import collect, roster
from coursetools.grade import batch
from coursetools.report import class_report as report

DEADLINE = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=10)
TENSOR = "tinytorch/core/tensor.py"

pytestmark = pytest.mark.timeout(600)  # a release, a few gradings of module 01


def git(*args, cwd, when=None):
    env = {**os.environ, "GIT_AUTHOR_NAME": "Student", "GIT_AUTHOR_EMAIL": "s@example.edu",
           "GIT_COMMITTER_NAME": "Student", "GIT_COMMITTER_EMAIL": "s@example.edu"}
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when.isoformat()
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def push_work(url: str, scratch: Path, text: str, when: datetime, message: str) -> None:
    work = scratch / f"work-{abs(hash((url, message)))}"
    git("clone", "-q", url, str(work), cwd=scratch)
    (work / TENSOR).write_text(text)
    git("commit", "-q", "-am", message, cwd=work, when=when)
    git("push", "-q", "origin", "main", cwd=work)


def write_roster(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([["student_id", "github", "name", "email", "extension"], *rows])
    return path


@pytest.fixture(scope="module")
def semester(released_01, tmp_path_factory):
    root = tmp_path_factory.mktemp("semester")
    class_roster = write_roster(root / "roster.csv", [
        ["s1", "alice-gh", "Alice Adams", "alice@example.edu", ""],
        ["s2", "bob-gh", "Bob Brown", "bob@example.edu", "2d"],
        ["s3", "carol-gh", "Carol Chen", "carol@example.edu", ""],
        ["s4", str(root / "nowhere" / "dave.git"), "Dave Diaz", "dave@example.edu", ""],
    ])
    host = roster.BareRepoHost(root / "server")
    urls = roster.main(roster=str(class_roster), template=str(released_01["skeleton"]), owner="cs101",
                       prefix="tinytorch-01", host=str(root / "server"), out=str(root / "repos.csv"))
    solution = (released_01["solution"] / TENSOR).read_text()
    push_work(urls["s1"], root, solution, DEADLINE - timedelta(days=1), "done")
    push_work(urls["s1"], root, "def broken(:\n", DEADLINE + timedelta(hours=5), "oops, after the deadline")
    push_work(urls["s2"], root, solution, DEADLINE + timedelta(days=1), "done, with my extension")
    submissions = root / "submissions"
    found = collect.main(roster=str(class_roster), deadline=DEADLINE.isoformat(), dest=str(submissions),
                         repos=str(root / "repos.csv"))
    results = root / "results"
    scores = batch.main(module="01", submissions=str(submissions), results=str(results),
                        dist=str(released_01["gradescope"].parents[2]))
    return {"root": root, "host": host, "urls": urls, "metadata": found, "submissions": submissions,
            "results": results, "scores": scores}


def test_distribute_makes_one_repository_per_student_from_the_template(semester, released_01):
    urls, host = semester["urls"], semester["host"]
    assert set(urls) == {"s1", "s2", "s3", "s4"} and urls["s4"].endswith("dave.git")
    template_head = git("rev-parse", "HEAD", cwd=released_01["skeleton"]).strip()
    carol = git("rev-parse", "main", cwd=Path(urls["s3"])).strip()
    assert carol == template_head, "the student's repository starts at the skeleton's commit"
    granted = json.loads((semester["root"] / "server" / "cs101" / "collaborators.json").read_text())
    assert granted == {"tinytorch-01-alice-gh": ["alice-gh"], "tinytorch-01-bob-gh": ["bob-gh"],
                       "tinytorch-01-carol-gh": ["carol-gh"]}
    assert host.exists("cs101", "tinytorch-01-alice-gh")


def test_distribute_again_keeps_existing_repositories(semester, released_01):
    before = git("rev-parse", "main", cwd=Path(semester["urls"]["s1"])).strip()
    again = roster.distribute(roster.load_roster(semester["root"] / "roster.csv"), semester["host"],
                              template=str(released_01["skeleton"]), owner="cs101", prefix="tinytorch-01")
    assert again == semester["urls"]
    assert git("rev-parse", "main", cwd=Path(semester["urls"]["s1"])).strip() == before, "a student's pushes were overwritten"


def test_collect_takes_the_last_commit_before_each_students_deadline(semester):
    meta = semester["metadata"]
    assert meta["s1"]["status"] == "collected" and meta["s1"]["late"] is False
    assert meta["s1"]["commits_after_deadline"] == 1
    assert (semester["submissions"] / "s1" / TENSOR).read_text() != "def broken(:\n"
    assert meta["s2"]["status"] == "collected" and meta["s2"]["late"] is False
    assert meta["s2"]["deadline"] == (DEADLINE + timedelta(days=2)).isoformat()
    assert meta["s3"]["status"] == "collected" and meta["s3"]["commits_after_deadline"] == 0
    assert meta["s4"]["status"] == "missing" and "could not fetch" in meta["s4"]["reason"]
    assert not (semester["submissions"] / "s4").exists() and not (semester["submissions"] / "s1" / ".git").exists()
    saved = json.loads((semester["submissions"] / "submission_metadata.json").read_text())
    assert saved["s1"]["email"] == "alice@example.edu"


def test_accept_late_takes_the_newest_commit_and_says_it_is_late(semester, tmp_path):
    found = collect.main(roster=str(semester["root"] / "roster.csv"), deadline=DEADLINE.isoformat(),
                         dest=str(tmp_path / "late"), repos=str(semester["root"] / "repos.csv"), accept_late=True)
    assert found["s1"]["late"] is True and (tmp_path / "late" / "s1" / TENSOR).read_text() == "def broken(:\n"


def test_grade_batch_grades_what_was_collected(semester, course):
    full = course.module("01").max_points
    assert semester["scores"] == {"s1": pytest.approx(full), "s2": pytest.approx(full), "s3": 0.0}
    assert json.loads((semester["results"] / "_metadata.json").read_text())["s4"]["status"] == "missing"


def test_roster_errors_name_the_line_and_the_fix(tmp_path):
    bad = write_roster(tmp_path / "r.csv", [["s1", "alice", "A", "a@x", ""], ["s1", "bob", "B", "b@x", ""]])
    with pytest.raises(roster.RosterError, match=r"r.csv:3: student_id 's1' already on line 2"):
        roster.load_roster(bad)
    bad = write_roster(tmp_path / "r.csv", [["s1", "alice", "A", "a@x", "soon"]])
    with pytest.raises(roster.RosterError, match=r"r.csv:2: extension 'soon' is neither a duration"):
        roster.load_roster(bad)
    with pytest.raises(ValueError, match="has no timezone"):
        roster.parse_deadline("2026-10-01T23:59:00")
    (tmp_path / "h.csv").write_text("id,user\n1,a\n")
    with pytest.raises(roster.RosterError, match="the header lacks student_id, github, name, email"):
        roster.load_roster(tmp_path / "h.csv")


def test_github_host_makes_the_documented_calls(monkeypatch):
    calls = []
    host = roster.GitHubHost("token-for-test")

    def fake(method, path, body=None):
        calls.append((method, path, body))
        return {"clone_url": "https://github.com/cs101/tinytorch-01-alice.git"}

    monkeypatch.setattr(host, "request", fake)
    url = host.create_from_template("cs101/tinytorch-01-template", "cs101", "tinytorch-01-alice")
    host.add_collaborator("cs101", "tinytorch-01-alice", "alice")
    assert url.endswith("tinytorch-01-alice.git")
    assert calls[0][:2] == ("POST", "/repos/cs101/tinytorch-01-template/generate")
    assert calls[0][2]["owner"] == "cs101" and calls[0][2]["private"] is True
    assert calls[1] == ("PUT", "/repos/cs101/tinytorch-01-alice/collaborators/alice", {"permission": "push"})
    with pytest.raises(ValueError, match="needs a token"):
        roster.GitHubHost("")


def test_report_shows_who_submitted_what_and_when(semester, course):
    summary = report.main(results=str(semester["results"]))
    assert summary["graded"] == 3 and summary["missing"] == [
        {"student": "s4", "reason": semester["metadata"]["s4"]["reason"]}]
    alice = (semester["results"] / "report" / "students" / "s1.html").read_text()
    assert "Alice Adams" in alice and "alice@example.edu" in alice and "<td>on time</td>" in alice
    assert semester["metadata"]["s1"]["commit"] in alice
    rows = {row["student"]: row for row in csv.DictReader(open(semester["results"] / "gradebook.csv"))}
    assert rows["s4"]["status"] == "missing" and rows["s4"]["total"] == "" and "could not fetch" in rows["s4"]["error"]
    assert float(rows["s2"]["total"]) == pytest.approx(course.module("01").max_points)
    assert rows["s2"]["name"] == "Bob Brown"
