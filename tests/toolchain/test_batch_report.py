"""make grade-batch and make report over solution, skeleton and broken submissions."""

import csv
import json
import shutil

import pytest

from coursetools import batch, report


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
    (submissions / "notes.txt").write_text("not a submission")
    results = root / "results"
    dist = released_01["gradescope"].parents[2]
    scores = batch.main(module="01", submissions=str(submissions), results=str(results), jobs=2, dist=str(dist))
    return submissions, results, scores, dist


def test_batch_grades_each_submission(graded_class, course):
    _, results, scores, _ = graded_class
    full = course.module("01").max_points
    assert scores == {"alice": pytest.approx(full), "bob": 0.0, "carol": 0.0}
    for name in scores:
        assert (results / name / "results.json").is_file() and (results / name / "report.json").is_file()


def test_batch_resumes_without_regrading(graded_class):
    submissions, results, _, dist = graded_class
    marker = results / "alice" / "results.json"
    before = marker.stat().st_mtime_ns
    batch.main(module="01", submissions=str(submissions), results=str(results), dist=str(dist))
    assert marker.stat().st_mtime_ns == before


def test_report_writes_summary_gradebook_and_page(graded_class, course):
    _, results, _, _ = graded_class
    summary = report.main(results=str(results))
    assert summary["students"] == 3 and sum(summary["histogram"]["counts"]) == 3
    assert json.loads((results / "summary.json").read_text())["scores"]["bob"] == 0.0
    rows = {row["student"]: row for row in csv.DictReader(open(results / "gradebook.csv"))}
    assert float(rows["alice"]["total"]) == pytest.approx(course.module("01").max_points)
    assert float(rows["carol"]["total"]) == 0.0
    page = (results / "report.html").read_text()
    assert "3 submissions" in page and "id=\"pass-rate\"" in page and "could not be imported" in page
