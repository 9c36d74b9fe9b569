"""The Otter bundle of module 01, graded by otter-grader's own runner (``otter run``).

The solution's tensor.py earns every point, the skeleton's none, with the same points per group
as the Gradescope bundle; a student folder named like the bundle's cannot replace it.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from coursetools.release.otter import BUNDLE_FOLDER, OtterBundleError, build_otter_bundle

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
TENSOR = Path("tinytorch/core/tensor.py")


def otter_run(archive: Path, submission: Path, out: Path) -> dict:
    """``otter run -a archive -o out submission``; returns results.json."""
    out.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(archive), "-o", str(out), str(submission)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert (out / "results.json").is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((out / "results.json").read_text())


def question_scores(results: dict) -> dict[str, tuple[float, float]]:
    return {t["name"]: (t["score"], t["max_score"]) for t in results["tests"] if "max_score" in t}


def group_points(gradescope_dir: Path) -> dict[str, float]:
    config = json.loads((gradescope_dir / "grader.json").read_text())
    number = config["module"]["number"]
    return {f"{number} {g['title']}": g["points"] for g in config["groups"]}


def test_release_writes_an_otter_zip_made_by_otter_generate(released_01):
    names = zipfile.ZipFile(released_01["otter"]).namelist()
    assert {"run_autograder", "run_otter.py", "setup.sh", "environment.yml", "otter_config.json"} <= set(names)
    assert "tinytorch_grader/otter_plugin.py" in names
    assert f"files/{BUNDLE_FOLDER}/grader.json" in names
    assert len([n for n in names if n.startswith("tests/")]) == 6


def test_solution_scores_full_marks_and_skeleton_zero_with_gradescope_points(released_01, tmp_path):
    solution = tmp_path / "solution" / "tensor.py"
    skeleton = tmp_path / "skeleton" / "tensor.py"
    for source, target in ((released_01["solution"], solution), (released_01["skeleton"], skeleton)):
        target.parent.mkdir()
        target.write_bytes((source / TENSOR).read_bytes())
    full = otter_run(released_01["otter"], solution, tmp_path / "out-solution")
    zero = otter_run(released_01["otter"], skeleton, tmp_path / "out-skeleton")
    points = group_points(released_01["gradescope_dir"])
    assert question_scores(full) == {name: (p, p) for name, p in points.items()}
    assert question_scores(zero) == {name: (0, p) for name, p in points.items()}
    public = {run: next(t for t in data["tests"] if t["name"] == "Public Tests") for run, data in (("full", full), ("zero", zero))}
    assert public["full"]["visibility"] == "visible" and public["full"]["status"] == "passed"
    assert public["zero"]["status"] == "failed" and "test_python_floats_become_float32" in public["zero"]["output"]
    hidden = [g["title"] for g in json.loads((released_01["gradescope_dir"] / "grader.json").read_text())["groups"]
              if g["visibility"] != "visible"]
    for title in hidden:  # the skeleton lost every hidden point: the public summary must not say otherwise
        line = next(l for l in public["zero"]["output"].splitlines() if l.startswith(f"01 {title}"))
        assert "All test cases passed" not in line and "hidden tests (" in line and "after the due date" in line


def test_otter_zip_is_byte_reproducible(course, released_01, tmp_path):
    built = []
    for run in ("first", "second"):
        folder = tmp_path / run / "gradescope"
        shutil.copytree(released_01["gradescope_dir"], folder)
        built.append(build_otter_bundle(course, course.module("01"), folder).read_bytes())
    assert built[0] == built[1]
    infos = zipfile.ZipFile(released_01["otter"]).infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(2020, 1, 1, 0, 0, 0)}
    assert "coursetools/otter_summary_plugin.py" in {i.filename for i in infos}


def test_a_student_folder_named_like_the_bundle_does_not_replace_it(released_01, tmp_path):
    submission = tmp_path / "submission.zip"
    with zipfile.ZipFile(submission, "w") as zf:
        zf.writestr("tensor.py", (released_01["skeleton"] / TENSOR).read_text())
        zf.writestr(f"{BUNDLE_FOLDER}/grader.json", "{}")
        zf.writestr(f"{BUNDLE_FOLDER}/tinytorch_grader/otter_bridge.py",
                    "def outcome(bundle, nodeid):\n    return True, 'free points'\n")
    results = otter_run(released_01["otter"], submission, tmp_path / "out")
    assert all(score == 0 for score, _ in question_scores(results).values())


def test_a_module_with_several_files_is_refused_with_the_reason(course, tmp_path):
    several = dataclasses.replace(course.module("01"), files=["tinytorch/core/tensor.py", "tinytorch/core/extra.py"])
    with pytest.raises(OtterBundleError, match="exactly one .py"):
        build_otter_bundle(course, several, tmp_path)


SKIP_EVERY_CHECK = """

import otter.test_files.exception_test as _otter_tests
_otter_tests.test_case.call_func = lambda self, env: None
"""


def test_top_level_code_of_a_submission_never_runs_in_otters_kernel(released_01, tmp_path):
    """Otter would execute the file in the kernel that runs its checks; the plugin prevents it."""
    submission = tmp_path / "hostile" / "tensor.py"
    submission.parent.mkdir()
    submission.write_text((released_01["skeleton"] / TENSOR).read_text() + SKIP_EVERY_CHECK)
    results = otter_run(released_01["otter"], submission, tmp_path / "out")
    assert all(score == 0 for score, _ in question_scores(results).values())
