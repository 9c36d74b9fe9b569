"""tito in a fresh student repository of module 01 and in the course repository.

tito runs here as the student gets it: the copy shipped in the skeleton's tools/, with the
skeleton first on the path (what ``pip install -e .`` in the skeleton gives).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coursetools.grade.submission import grade_with_bundle
from coursetools.release.student_tools import shipped_toolchain
from coursetools.tito.errors import FAILED, OK, USAGE
from coursetools.tito.main import parser

ROOT = Path(__file__).resolve().parents[2]
TENSOR = Path("tinytorch/core/tensor.py")


def tito(repo: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the tito shipped in ``repo`` (its tools/ and package first on the path)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo / "tools"), str(repo)])}
    return subprocess.run([sys.executable, "-m", "coursetools.tito.main", *args], cwd=cwd or repo, env=env,
                          capture_output=True, text=True, timeout=300)


def tito_json(repo: Path, *args: str, code: int = OK) -> dict:
    done = tito(repo, *args, "--json")
    assert done.returncode == code, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.fixture
def student(released_01, tmp_path) -> Path:
    """A fresh copy of module 01's skeleton, as a student clones it."""
    return Path(shutil.copytree(released_01["skeleton"], tmp_path / "01_tensor"))


def test_status_of_a_fresh_skeleton_counts_the_stubs(student):
    status = tito_json(student, "module", "status")
    (own,) = [m for m in status["modules"] if m["number"] == "01"]
    assert status["workspace"] == "student" and status["assigned"] == "01"
    assert own["phase"] == "not started" and own["stubs_left"] > 5 and own["last_test"] is None


@pytest.mark.slow
def test_test_and_grade_agree_with_make_grade(student, released_01, tmp_path):
    tested = tito_json(student, "module", "test", "01", code=FAILED)
    graded = tito_json(student, "grade", "01", code=FAILED)
    assert tested["passed"] == 0 and tested["total"] > 0 and graded["score"] == 0.0

    shutil.copyfile(released_01["solution"] / TENSOR, student / TENSOR)
    tested = tito_json(student, "module", "test", "01")
    graded = tito_json(student, "grade", "01")
    assert tested["all_passed"] and tested["points"] == pytest.approx(tested["max_points"], abs=0.01)
    reference = grade_with_bundle(released_01["gradescope"], student, tmp_path / "make-grade" / "results.json")
    visible = {t["name"]: t["score"] for t in reference["tests"]
               if t["visibility"] == "visible" and "summary" not in t["tags"]}
    assert {t["name"]: t["score"] for t in graded["tests"]} == visible
    assert graded["score"] == pytest.approx(tested["points"], abs=0.01) == pytest.approx(sum(visible.values()), abs=0.01)
    status = tito_json(student, "module", "status", "01")
    assert status["modules"][0]["phase"] == "tests passing" and status["modules"][0]["stubs_left"] == 0
    tito_json(student, "module", "complete", "01")
    assert tito_json(student, "module", "status", "01")["modules"][0]["phase"] == "completed"


def test_start_never_overwrites_and_recreates_only_what_is_missing(student):
    work = (student / TENSOR).read_text() + "\n# my work in progress\n"
    (student / TENSOR).write_text(work)
    notebook = student / "notebooks" / "core" / "tensor.ipynb"
    notebook.unlink()
    started = tito_json(student, "module", "start", "01")
    assert started["created"] == ["notebooks/core/tensor.ipynb"] and str(TENSOR) in started["kept"]
    assert (student / TENSOR).read_text() == work and notebook.is_file()


def test_reset_asks_then_backs_up_and_says_where(student):
    work = (student / TENSOR).read_text().replace("# %%", "# %% my cells", 1)
    (student / TENSOR).write_text(work)
    refused = tito(student, "module", "reset", "01")
    assert refused.returncode == USAGE and "--yes" in refused.stderr
    assert (student / TENSOR).read_text() == work
    reset = tito_json(student, "module", "reset", "01", "--yes")
    backup = Path(reset["backup"])
    assert backup.is_relative_to(student / ".tito" / "local" / "backups")
    assert (backup / TENSOR).read_text() == work
    assert (student / TENSOR).read_text() == (student / ".tito" / "starter" / TENSOR).read_text()


def test_plain_text_when_piped(student):
    listed = tito(student, "module", "list")
    assert listed.returncode == OK and "\x1b[" not in listed.stdout
    assert "01" in listed.stdout and "Tensor" in listed.stdout


def test_exit_codes_name_the_problem(student, tmp_path):
    unknown = tito(student, "module", "test", "42")
    assert unknown.returncode == USAGE and "no module '42'" in unknown.stderr
    bench = tito(student, "benchmark", "run", "--event", "mlp_sprint")
    assert bench.returncode == USAGE and "module 19" in bench.stderr
    data = tito(student, "data", "--check")
    assert data.returncode == USAGE and "module 08" in data.stderr
    milestones = tito(student, "milestone", "list")
    assert milestones.returncode == USAGE and "course repository" in milestones.stderr
    outside = tito(student, "module", "status", cwd=tmp_path)
    assert outside.returncode == USAGE and "not inside a TinyTorch repository" in outside.stderr


def test_doctor_sees_the_student_package(student):
    doctor = tito_json(student, "system", "doctor")
    checks = {c["name"]: c for c in doctor["checks"]}
    assert checks["tinytorch"]["ok"] and str(student) in checks["tinytorch"]["found"]
    assert "BLAS" in checks["NumPy"]["found"] and doctor["ok"]


def test_setup_check_creates_the_data_folder_and_installs_nothing(student, tmp_path, monkeypatch):
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path / "data"))
    setup = tito_json(student, "setup", "--check")
    assert setup["ok"] and (tmp_path / "data").is_dir()
    assert {c["name"]: c["ok"] for c in setup["checks"]}["datasets"] is False


def test_milestones_are_listed_with_their_recorded_results():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    run = [sys.executable, "-m", "coursetools.tito.main", "milestone"]
    listed = json.loads(subprocess.run([*run, "list", "--json"], cwd=ROOT, env=env, capture_output=True,
                                       text=True, timeout=60).stdout)
    folders = sorted(p.name for p in (ROOT / "milestones").iterdir() if p.is_dir() and p.name[:2].isdigit())
    assert [m["folder"] for m in listed["milestones"]] == folders
    status = json.loads(subprocess.run([*run, "status", "--json"], cwd=ROOT, env=env, capture_output=True,
                                       text=True, timeout=60).stdout)
    recorded = {p.stem for p in (ROOT / "milestones" / "results").glob("*.json")}
    local = {"local/" + p.stem for p in (ROOT / "milestones" / "results" / "local").glob("*.json")}
    assert {e["result"] for e in status["milestones"]} - {"never run"} == recorded | local


def test_skeleton_ships_only_the_toolchain_tito_needs(student):
    shipped = {p.relative_to(student / "tools" / "coursetools").as_posix()
               for p in (student / "tools" / "coursetools").rglob("*.py")}
    assert shipped == set(shipped_toolchain(ROOT / "scripts" / "coursetools"))
    assert {"grade/__init__.py", "grade/submission.py", "manifest.py", "tito/main.py"} <= shipped
    assert "author/markers.py" not in shipped and "release/bundle.py" not in shipped
    assert (student / "tools" / "tinytorch_grader" / "run.py").is_file()
    assert 'tito = "coursetools.tito:main"' in (student / "pyproject.toml").read_text()


def test_course_repository_status_reads_the_manifest(course):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    done = subprocess.run([sys.executable, "-m", "coursetools.tito.main", "module", "status", "--json"],
                          cwd=ROOT / "docs", env=env, capture_output=True, text=True, timeout=120)
    status = json.loads(done.stdout)
    assert status["workspace"] == "course"
    assert [m["number"] for m in status["modules"]] == [m.number for m in course.modules]
    for module, described in zip(course.modules, status["modules"]):
        assert described["max_points"] == pytest.approx(module.max_points)
        assert (described["phase"] == "planned") == (not module.released)


@pytest.mark.slow
def test_benchmark_runs_module_19s_event_in_the_course_repository(tmp_path):
    from tinytorch.core.dataloader import data_root

    if not (data_root() / "mnist" / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("MNIST is not in the data folder (make data puts it there)")
    out = tmp_path / "submission.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    done = subprocess.run([sys.executable, "-m", "coursetools.tito.main", "benchmark", "run", "--event", "mlp_sprint",
                           "--steps", "3", "--out", str(out), "--json", "--threads", "1"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == FAILED, done.stderr[-2000:]  # 3 steps cannot reach the 95% floor
    assert json.loads(done.stdout)["threads"] == {**json.loads(done.stdout)["threads"], "blas_threads": 1,
                                                  "workers": 1, "reason": "threads given"}
    submission = json.loads(done.stdout)["submission"]
    assert submission["valid"] is False and 0.0 <= submission["quality"]["value"] < 0.95
    assert json.loads(out.read_text())["event"] == "mlp_sprint"


@pytest.mark.parametrize("command", [
    [], ["setup"], ["system"], ["system", "doctor"], ["module"], ["module", "list"], ["module", "status"],
    ["module", "start"], ["module", "test"], ["module", "complete"], ["module", "reset"], ["milestone"],
    ["milestone", "list"], ["milestone", "run"], ["milestone", "status"], ["benchmark"], ["benchmark", "run"],
    ["grade"], ["data"],
])
def test_help_everywhere(command, capsys):
    with pytest.raises(SystemExit) as stopped:
        parser().parse_args([*command, "--help"])
    assert stopped.value.code == 0 and "usage: tito" in capsys.readouterr().out


def test_module_test_prints_one_short_line_per_failure_and_the_trace_on_request(student):
    short = tito(student, "module", "test", "01")
    assert short.returncode == FAILED
    failures = [line for line in short.stdout.splitlines() if line.startswith("FAIL ")]
    total = len(failures)
    assert total >= 30 and "Traceback" not in short.stdout and "def " not in short.stdout
    assert all(len(line) < 250 for line in failures)
    assert "'_as_array' is still a stub" in failures[0]
    assert len(short.stdout.splitlines()) < total + 15
    traced = tito(student, "module", "test", "01", "--trace")
    assert traced.returncode == FAILED and "NotImplementedError" in traced.stdout
    assert len(traced.stdout.splitlines()) > 5 * len(short.stdout.splitlines())


def test_status_forgets_test_results_after_reset_and_restart(student, released_01):
    shutil.copyfile(released_01["solution"] / TENSOR, student / TENSOR)
    tito_json(student, "module", "test", "01")
    assert tito_json(student, "module", "status", "01")["modules"][0]["phase"] == "tests passing"
    tito_json(student, "module", "reset", "01", "--yes")
    after_reset = tito_json(student, "module", "status", "01")["modules"][0]
    assert after_reset["phase"] == "not started" and after_reset["last_test"] is None
    assert after_reset["stubs_left"] > 5

    shutil.copyfile(released_01["solution"] / TENSOR, student / TENSOR)
    tito_json(student, "module", "test", "01")
    (student / TENSOR).unlink()
    (student / "notebooks" / "core" / "tensor.ipynb").unlink()
    tito_json(student, "module", "start", "01")
    restarted = tito_json(student, "module", "status", "01")["modules"][0]
    assert restarted["last_test"] is None and restarted["phase"] != "tests passing"

    shutil.copyfile(released_01["solution"] / TENSOR, student / TENSOR)
    tito_json(student, "module", "test", "01")
    (student / TENSOR).write_text((student / TENSOR).read_text() + "\n# edited after the test\n")
    edited = tito_json(student, "module", "status", "01")["modules"][0]
    assert edited["test_is_current"] is False and edited["phase"] != "tests passing"
    assert "files changed since" in tito(student, "module", "status", "01").stdout


def test_grade_prints_a_results_path_that_stays(student):
    graded = tito(student, "grade", "01")
    assert graded.returncode == FAILED, graded.stderr[-2000:]
    (line,) = [line for line in graded.stdout.splitlines() if line.startswith("results: ")]
    path = Path(line.split()[1])
    assert path.is_file() and path.is_relative_to(student / ".tito" / "local")
    assert json.loads(path.read_text())["score"] == 0 and path.with_name("report.json").is_file()
    assert "/tmp/autograder-" not in graded.stdout and "autograder-" not in graded.stdout


def test_benchmark_names_the_stubs_to_implement_before_training(tmp_path):
    from coursetools.tito.benchmark import require_implemented
    from coursetools.tito.errors import TitoError
    from coursetools.tito.workspace import ModuleInfo, Workspace

    bench = tmp_path / "tinytorch" / "bench.py"
    bench.parent.mkdir()
    bench.write_text("def run_event():\n    raise NotImplementedError(\"Module 19 (benchmarking), region "
                     "'run_event' is not implemented yet.\")\n")
    module = ModuleInfo(number="19", slug="benchmarking", title="Benchmarking", package="tinytorch.bench",
                        files=("tinytorch/bench.py",), status="released", groups=())
    ws = Workspace(kind="student", root=tmp_path, package_root=tmp_path, course_name="TinyTorch",
                   modules=(module,), assigned="19")
    with pytest.raises(TitoError, match=r"module 19 \(tinytorch/bench.py\): run_event.*tito module test 19"):
        require_implemented(ws)
    bench.write_text("def run_event():\n    return 1\n")
    require_implemented(ws)


def run_milestone(*args: str, data: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TINYTORCH_DATA": str(data), "OPENBLAS_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, str(ROOT / "milestones" / "run.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_a_milestone_without_its_data_says_make_data_and_runs_its_other_scripts(tmp_path):
    """Milestone 05: attention_proof.py needs no dataset, shakespeare_gpt.py needs Tiny Shakespeare."""
    done = run_milestone("05", "--quick", "--results", str(tmp_path / "results"), data=tmp_path / "empty")
    assert done.returncode == 3, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    (missing,) = [line for line in done.stderr.splitlines() if line.startswith("DATA MISSING")]
    assert "tinyshakespeare.txt" in missing and "make data" in missing
    assert (tmp_path / "results" / "05_attention_reversal_quick.json").is_file(), "the other script ran"
    assert "attention_proof.py done; shakespeare_gpt.py skipped: dataset missing" in done.stdout


@pytest.mark.slow
def test_milestone_runs_leave_the_committed_results_alone_and_draw_their_plots(tmp_path):
    committed = {p.name: p.read_bytes() for p in (ROOT / "milestones" / "results").iterdir() if p.is_file()}
    results = tmp_path / "results"
    for number in ("01", "02"):
        done = run_milestone(number, "--quick", "--results", str(results), data=tmp_path)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert {p.name: p.read_bytes() for p in (ROOT / "milestones" / "results").iterdir() if p.is_file()} == committed
    for stem in ("01_perceptron_quick", "02_xor_quick"):
        assert (results / f"{stem}.json").is_file() and (results / f"{stem}.png").is_file()
        assert (results / f"{stem}_boundary.png").stat().st_size > 10_000
    sys.path.insert(0, str(ROOT / "milestones"))
    try:
        import common
    finally:
        sys.path.remove(str(ROOT / "milestones"))
    defaults = common.argparse.Namespace(results=None, record=False)
    assert common.results_dir(defaults) == ROOT / "milestones" / "results" / "local"
    assert common.results_dir(common.argparse.Namespace(results=None, record=True)) == ROOT / "milestones" / "results"
    assert "*" in (ROOT / "milestones" / "results" / "local" / ".gitignore").read_text().split()


def test_curves_plot_puts_loss_and_accuracy_in_labelled_panels(tmp_path):
    sys.path.insert(0, str(ROOT / "milestones"))
    try:
        import common
    finally:
        sys.path.remove(str(ROOT / "milestones"))
    import matplotlib.pyplot as plt

    drawn = []
    original = plt.Figure.savefig
    plt.Figure.savefig = lambda figure, *a, **k: drawn.append(figure) or original(figure, *a, **k)
    try:
        assert common.plot_curves(tmp_path / "c.png", "demo", {"train loss": [2.0, 1.0], "test accuracy": [0.5, 0.9]})
    finally:
        plt.Figure.savefig = original
    (figure,) = drawn
    panels = [(axis.get_ylabel(), axis.get_xlabel(), [line.get_label() for line in axis.get_lines()]) for axis in figure.axes]
    assert panels == [("loss", "epoch", ["train loss"]), ("accuracy", "epoch", ["test accuracy"])]
    assert (tmp_path / "c.png").stat().st_size > 5_000
