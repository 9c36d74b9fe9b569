"""make grade-batch and make report over solution, skeleton, broken, copied and worker-killing submissions."""

import csv
import json
import shutil
import zipfile

import pytest

from coursetools.grade import batch
from coursetools.report import class_report as report

pytestmark = pytest.mark.slow  # grades six submissions (about a minute and a half on 2 cores)


@pytest.fixture(scope="module")
def graded_class(released_01, tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    submissions = root / "submissions"
    submissions.mkdir()
    shutil.copytree(released_01["solution"], submissions / "alice", ignore=shutil.ignore_patterns(".git"))
    shutil.copytree(released_01["skeleton"], submissions / "bob", ignore=shutil.ignore_patterns(".git"))
    broken = submissions / "carol" / "tinytorch" / "core"
    broken.mkdir(parents=True)
    (broken / "tensor.py").write_text("def oops(:\n")
    killer = submissions / "dave" / "tinytorch" / "core"
    killer.mkdir(parents=True)
    (killer / "tensor.py").write_text("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n")
    solution = (released_01["solution"] / "tinytorch" / "core" / "tensor.py").read_text()
    copied = submissions / "erin" / "tinytorch" / "core"
    copied.mkdir(parents=True)
    (copied / "tensor.py").write_text("# my own work, honest\n" + solution.replace("other", "rhs"))
    with zipfile.ZipFile(submissions / "frank.zip", "w") as zf:
        zf.writestr("repo/tinytorch/core/tensor.py", solution)
    (submissions / "notes.txt").write_text("not a submission")
    results = root / "results"
    dist = released_01["gradescope"].parents[2]
    scores = batch.main(module="01", submissions=str(submissions), results=str(results), jobs=2, dist=str(dist))
    return submissions, results, scores, dist


def test_batch_grades_each_submission(graded_class, course, released_01):
    _, results, scores, _ = graded_class
    full = course.module("01").max_points
    assert scores == {"alice": pytest.approx(full), "bob": 0.0, "carol": 0.0, "dave": 0.0,
                      "erin": pytest.approx(full), "frank": pytest.approx(full)}
    index = json.loads((results / "index.json").read_text())["submissions"]
    assert {name: entry["status"] for name, entry in index.items()} == {name: "graded" for name in scores}
    for name in scores:
        assert (results / name / "results.json").is_file() and (results / name / "report.json").is_file()
        json.loads((results / name / "report.json").read_text())
    kept = results / "frank" / "submitted" / "tinytorch" / "core" / "tensor.py"
    assert kept.read_text() == (released_01["solution"] / "tinytorch" / "core" / "tensor.py").read_text()


def test_a_submission_that_kills_its_worker_does_not_stop_the_batch(graded_class):
    _, results, scores, _ = graded_class
    dave = json.loads((results / "dave" / "results.json").read_text())
    assert dave["score"] == 0.0 and scores["erin"] > 0


def test_batch_resumes_without_regrading(graded_class):
    submissions, results, _, dist = graded_class
    marker = results / "alice" / "results.json"
    before = marker.stat().st_mtime_ns
    batch.main(module="01", submissions=str(submissions), results=str(results), dist=str(dist))
    assert marker.stat().st_mtime_ns == before


def test_batch_regrades_a_damaged_result_and_keeps_the_others(graded_class):
    submissions, results, _, dist = graded_class
    damaged = results / "carol" / "results.json"
    kept = results / "alice" / "results.json"
    original, before = damaged.read_text(), kept.stat().st_mtime_ns
    damaged.write_text("{ half written")
    scores = batch.main(module="01", submissions=str(submissions), results=str(results), dist=str(dist))
    assert scores["carol"] == 0.0 and json.loads(damaged.read_text())["tests"]
    assert kept.stat().st_mtime_ns == before
    assert json.loads(damaged.read_text())["score"] == json.loads(original)["score"]


def test_report_writes_summary_gradebook_and_site(graded_class, course):
    _, results, _, _ = graded_class
    summary = report.main(results=str(results))
    assert summary["students"] == 6 and sum(summary["histogram"]["counts"]) == summary["graded"] == 6
    assert json.loads((results / "summary.json").read_text())["scores"]["bob"] == 0.0
    rows = {row["student"]: row for row in csv.DictReader(open(results / "gradebook.csv"))}
    assert float(rows["alice"]["total"]) == pytest.approx(course.module("01").max_points)
    assert float(rows["carol"]["total"]) == 0.0 and rows["carol"]["status"] == "graded"
    page = (results / "report" / "index.html").read_text()
    assert "6 students: 6 graded" in page and 'id="pass-rate"' in page
    carol = (results / "report" / "students" / "carol.html").read_text()
    assert "could not be imported" in carol and "def oops(:" in carol


def test_gradebook_has_a_max_row_and_a_column_per_group_in_manifest_order(graded_class, course):
    _, results, _, _ = graded_class
    report.main(results=str(results))
    module = course.module("01")
    with open(results / "gradebook.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["student", "name", "email", *(g.name for g in module.groups), "total", "status", "error"]
    assert rows[0]["student"] == "max points" and float(rows[0]["total"]) == pytest.approx(module.max_points)
    by_name = {row["student"]: row for row in rows}
    for group in module.groups:
        assert float(rows[0][group.name]) == pytest.approx(group.points, abs=0.01)
        assert float(by_name["alice"][group.name]) == pytest.approx(group.points, abs=0.01)
        assert float(by_name["bob"][group.name]) == 0.0
    canvas = list(csv.reader(open(results / "gradebook-canvas.csv")))
    assert canvas[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert canvas[1][0] == "Points Possible" and float(canvas[1][5]) == pytest.approx(module.max_points)


def test_report_pairs_the_copied_submission_and_not_the_starter(graded_class):
    _, results, _, _ = graded_class
    summary = report.main(results=str(results))
    pairs = {tuple(p["students"]) for p in summary["similar_pairs"]}
    assert ("alice", "erin") in pairs and ("alice", "frank") in pairs
    assert not any("bob" in pair for pair in pairs), "the untouched starter code must not count as copying"
    assert summary["similar_pairs"][0]["similarity"] > 0.9
    assert "alice" in (results / "report" / "index.html").read_text().split('id="similar"')[1]
