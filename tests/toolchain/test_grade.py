"""make grade: results.json for good, empty and broken submissions (the grader never crashes)."""

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from coursetools.grade.submission import grade_with_bundle

TENSOR = Path("tinytorch/core/tensor.py")


def _submission(released_01, tmp_path: Path, edit=None) -> Path:
    sub = tmp_path / "submission"
    shutil.copytree(released_01["solution"], sub, ignore=shutil.ignore_patterns(".git"))
    if edit:
        path = sub / TENSOR
        path.write_text(edit(path.read_text()))
    return sub


def _grade(released_01, submission: Path, tmp_path: Path) -> dict:
    return grade_with_bundle(released_01["gradescope"], submission, tmp_path / "results.json")


def _check_schema(data: dict) -> None:
    assert isinstance(data["score"], float) and isinstance(data["execution_time"], float)
    for test in data["tests"]:
        assert {"name", "number", "score", "max_score", "status", "visibility", "output"} <= set(test)
        assert test["status"] in ("passed", "failed")


def test_solution_scores_full_marks_and_report_is_beside_results(released_01, tmp_path):
    data = _grade(released_01, _submission(released_01, tmp_path), tmp_path)
    _check_schema(data)
    assert data["score"] == pytest.approx(data["extra_data"]["max_score"])
    assert (tmp_path / "report.json").is_file()


def test_summary_entry_is_visible_and_mentions_hidden_tests(released_01, tmp_path):
    data = _grade(released_01, _submission(released_01, tmp_path), tmp_path)
    summary = data["tests"][0]
    assert summary["name"] == "Summary" and summary["visibility"] == "visible" and "Hidden tests" in summary["output"]


def test_syntax_error_gives_zero_and_names_the_error(released_01, tmp_path):
    sub = _submission(released_01, tmp_path, lambda s: s.replace("def __neg__(self) -> Tensor:", "def __neg__(self) -> Tensor"))
    data = _grade(released_01, sub, tmp_path)
    _check_schema(data)
    assert data["score"] == 0
    assert all("SyntaxError" in t["output"] for t in data["tests"][1:])


def test_missing_file_gives_zero_and_says_which_file(released_01, tmp_path):
    sub = tmp_path / "empty"
    sub.mkdir()
    data = _grade(released_01, sub, tmp_path)
    assert data["score"] == 0 and "tinytorch/core/tensor.py" in data["tests"][1]["output"]


def test_exception_at_import_time_gives_zero_with_its_message(released_01, tmp_path):
    sub = _submission(released_01, tmp_path, lambda s: s + "\nraise RuntimeError('broken on import')\n")
    data = _grade(released_01, sub, tmp_path)
    assert data["score"] == 0 and "broken on import" in data["tests"][1]["output"]


def test_infinite_loop_costs_only_the_tests_that_reach_it(released_01, tmp_path):
    loop = "    def __neg__(self) -> Tensor:\n        while True:\n            pass\n"
    sub = _submission(released_01, tmp_path, lambda s: s.replace("    def __neg__(self) -> Tensor:\n", loop + "\n    def _unused(self) -> Tensor:\n"))
    data = _grade(released_01, sub, tmp_path)
    timed_out = [t for t in data["tests"] if "Timeout" in t["output"]]
    assert timed_out and all(t["score"] == 0 for t in timed_out)
    stopped = [t["name"] for t in data["tests"] if "stopped after" in t["output"] or "grading time" in t["output"]]
    assert not stopped, f"the loop cost whole groups, not just its tests: {stopped}"
    assert 0 < data["score"] < data["extra_data"]["max_score"]


def test_submission_as_a_zip_of_the_repository(released_01, tmp_path):
    sub = _submission(released_01, tmp_path)
    archive = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sub.rglob("*"):
            zf.write(path, Path("my-repo") / path.relative_to(sub))
    data = _grade(released_01, archive, tmp_path)
    assert data["score"] == pytest.approx(data["extra_data"]["max_score"])


def test_only_owned_files_are_taken_from_the_submission(released_01, tmp_path):
    sub = _submission(released_01, tmp_path)
    (sub / "conftest.py").write_text("raise SystemExit('a submitted conftest must never run')\n")
    test_file = sub / "tests" / "01_tensor" / "test_creation.py"
    test_file.write_text("def test_creation():\n    assert False\n")
    data = _grade(released_01, sub, tmp_path)
    assert data["score"] == pytest.approx(data["extra_data"]["max_score"])


def _without_timings(data: dict) -> dict:
    data = json.loads(json.dumps(data))
    data.pop("execution_time")
    for test in data["tests"]:
        test["extra_data"].pop("seconds", None)
    return data


def test_grading_the_same_submission_twice_gives_identical_results(released_01, tmp_path):
    sub = _submission(released_01, tmp_path, lambda s: s.replace("return Tensor._make(-self.data,", "return Tensor._make(self.data,"))
    first = _grade(released_01, sub, tmp_path / "first")
    second = _grade(released_01, sub, tmp_path / "second")
    assert 0 < first["score"] < first["extra_data"]["max_score"]
    assert _without_timings(first) == _without_timings(second)
