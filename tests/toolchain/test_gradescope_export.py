"""Gradescope's Export Submissions zip (submission_metadata.yml with Ruby tags) read as a submissions folder."""

import json
import zipfile
from datetime import datetime, timezone

import pytest

from coursetools.grade import batch, gradescope_export
from coursetools.report import class_report as report

METADATA = """\
submission_1001:
  :submitters:
  - :name: Ana Alves
    :sid: '42'
    :email: ana@example.edu
  :created_at: 2026-10-01 20:15:00.123456789 -07:00
  :score: 90.0
  :status: processed
  :results: !ruby/hash:ActiveSupport::HashWithIndifferentAccess
    score: 90.0
  :history: []
submission_1002:
  :submitters:
  - :name: Ben Berg
    :email: ben@example.edu
  - :name: Cem Cakir
    :sid: '44'
    :email: cem@example.edu
  :created_at: 2026-10-03 09:00:00.000000000 -07:00
  :score: 0.0
  :history: []
"""


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "assignment_777_export.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("assignment_777_export/submission_metadata.yml", METADATA)
        zf.writestr("assignment_777_export/submission_1001/tinytorch/core/tensor.py", "x = 1\n")
        zf.writestr("assignment_777_export/submission_1002/tensor.py", "y = 2\n")
        zf.writestr("__MACOSX/assignment_777_export/._submission_metadata.yml", "junk")
    return path


def test_the_export_becomes_a_folder_per_submission_with_its_metadata(export, tmp_path):
    deadline = datetime(2026, 10, 2, 6, 59, tzinfo=timezone.utc)
    found = gradescope_export.import_export(export, tmp_path / "subs", deadline)
    assert set(found) == {"42", "ben"}
    assert (tmp_path / "subs" / "42" / "tinytorch" / "core" / "tensor.py").read_text() == "x = 1\n"
    assert found["42"]["name"] == "Ana Alves" and found["42"]["email"] == "ana@example.edu"
    assert found["42"]["late"] is False and found["42"]["submitted_at"].startswith("2026-10-01T20:15:00")
    assert found["ben"]["name"] == "Ben Berg & Cem Cakir" and found["ben"]["late"] is True
    assert found["ben"]["email"] == "ben@example.edu, cem@example.edu"
    assert json.loads((tmp_path / "subs" / "submission_metadata.json").read_text()) == found
    assert [p.name for p in batch.find_submissions(tmp_path / "subs")] == ["42", "ben"]


def test_the_report_uses_the_exports_names(export, tmp_path):
    gradescope_export.import_export(export, tmp_path / "subs", datetime(2026, 10, 2, tzinfo=timezone.utc))
    results = tmp_path / "results"
    for name in ("42", "ben"):
        (results / name).mkdir(parents=True)
        (results / name / "results.json").write_text(json.dumps({"score": 1.0, "tests": [
            {"name": "G › t", "number": "1.1", "score": 1.0, "max_score": 1.0, "status": "passed", "tags": ["g"]}]}))
    batch.copy_metadata(tmp_path / "subs", results)
    report.main(results=str(results))
    page = (results / "report" / "students" / "ben.html").read_text()
    assert "Ben Berg &amp; Cem Cakir" in page and "<td>late</td>" in page


def test_what_is_not_an_export_is_refused(tmp_path):
    single = tmp_path / "one.zip"
    with zipfile.ZipFile(single, "w") as zf:
        zf.writestr("tensor.py", "x = 1\n")
    with pytest.raises(gradescope_export.ExportError, match="has 0 submission_metadata.yml"):
        gradescope_export.import_export(single, tmp_path / "subs")
    escape = tmp_path / "escape.zip"
    with zipfile.ZipFile(escape, "w") as zf:
        zf.writestr("e/submission_metadata.yml", "submission_1:\n  :submitters: []\n")
        zf.writestr("e/submission_1/../../evil.py", "x\n")
    with pytest.raises(gradescope_export.ExportError, match="outside its submission folder"):
        gradescope_export.import_export(escape, tmp_path / "subs2")
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "mine.py").write_text("keep me\n")
    with pytest.raises(gradescope_export.ExportError, match="no import wrote"):
        gradescope_export.import_export(single, tmp_path / "work")
