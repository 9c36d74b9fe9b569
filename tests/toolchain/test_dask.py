"""make grade-batch on a real Dask cluster: a local scheduler and two worker processes on 127.0.0.1.

The same per-submission grading as the local pool (``coursetools.grade.engines.grade_submission``), so
the results must match the local pool's test for test; a worker killed mid-batch must lose
nothing (the scheduler reruns its task on the other worker). How fast each engine grades is a
benchmark, not a test: ``python benchmarks/grade_batch_engines.py``.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coursetools.grade import batch, engines

pytest.importorskip("distributed")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # starts a cluster, grades about a dozen submissions
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(*command: str) -> subprocess.Popen:
    return subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"})


@pytest.fixture
def cluster():
    """A scheduler and two single-threaded workers (no nanny, so a killed worker stays dead)."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    processes = [start(str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                       "--no-dashboard")]
    workers = [start(str(BIN / "dask"), "worker", f"tcp://{address}", "--nthreads", "1", "--no-nanny",
                     "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{k}") for k in range(2)]
    processes += workers
    from distributed import Client

    deadline = time.monotonic() + 60
    while True:
        try:
            with Client(address, timeout="5s") as client:
                if len(client.scheduler_info()["workers"]) == 2:
                    break
        except OSError:
            pass
        assert time.monotonic() < deadline, "the local dask cluster did not come up in 60 s"
        time.sleep(0.5)
    yield address, workers
    for process in processes:
        engines.kill_tree(process.pid)
        process.wait()


def make_submissions(released_01, folder: Path, count: int) -> Path:
    """count tiny module-01 submissions: solutions, skeletons and a syntax error, in turn."""
    folder.mkdir(parents=True)
    for k in range(count):
        name = f"s{k:03d}"
        kind = k % 3
        if kind == 2:
            (folder / name / "tinytorch" / "core").mkdir(parents=True)
            (folder / name / "tinytorch" / "core" / "tensor.py").write_text("def oops(:\n")
        else:
            source = released_01["solution" if kind == 0 else "skeleton"]
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns(".git"))
    return folder


def outcome_of(results: Path) -> dict:
    found = {}
    for path in sorted(results.glob("*/results.json")):
        data = json.loads(path.read_text())
        found[path.parent.name] = (data["score"], [(t["name"], t["status"], t["score"]) for t in data["tests"]])
    return found


def first_difference(left: Path, right: Path) -> str:
    """The first test whose outcome differs between two result folders, with both outputs."""
    for path in sorted(left.glob("*/results.json")):
        ours = {t["name"]: t for t in json.loads(path.read_text())["tests"]}
        theirs = {t["name"]: t for t in json.loads((right / path.parent.name / "results.json").read_text())["tests"]}
        for name, test in ours.items():
            if (test["status"], test["score"]) != (theirs[name]["status"], theirs[name]["score"]):
                return f"{path.parent.name} {name}:\n{test['output'][:1500]}\n--- vs ---\n{theirs[name]['output'][:1500]}"
    return "no test differs"


def dist_of(released_01) -> str:
    return str(released_01["gradescope"].parents[2])


def test_dask_gives_the_local_pools_results(cluster, released_01, tmp_path, capsys):
    address, _ = cluster
    submissions = make_submissions(released_01, tmp_path / "submissions", 3)
    on_dask = batch.main(module="01", submissions=str(submissions), results=str(tmp_path / "dask"),
                         dist=dist_of(released_01), engine="dask", scheduler=address)
    assert "dask scheduler tcp://" + address in capsys.readouterr().out
    local = batch.main(module="01", submissions=str(submissions), results=str(tmp_path / "local"),
                       dist=dist_of(released_01), jobs=2)
    assert on_dask == local, first_difference(tmp_path / "dask", tmp_path / "local")
    assert set(on_dask) == {"s000", "s001", "s002"}
    assert outcome_of(tmp_path / "dask") == outcome_of(tmp_path / "local")
    full = sum(g.points for g in __import__("coursetools.manifest").manifest.load_course().module("01").groups)
    assert on_dask["s000"] == pytest.approx(full) and on_dask["s001"] == 0.0
    workers = {json.loads((tmp_path / "dask" / n / "status.json").read_text())["worker"] for n in on_dask}
    assert all(w.split(":")[-1] != str(os.getpid()) for w in workers), "graded in the test process, not on dask"


def test_a_worker_killed_mid_batch_loses_nothing(cluster, released_01, tmp_path):
    address, workers = cluster
    submissions = make_submissions(released_01, tmp_path / "submissions", 4)
    engine = engines.DaskEngine(address)
    stored = {}
    killed = []

    def store(task, outcome):
        stored[task.name] = outcome
        if not killed:  # the other worker is busy with its own task now: kill one of them
            victim = workers[0]
            engines.kill_tree(victim.pid)
            victim.wait()
            killed.append(victim.pid)

    from coursetools.manifest import load_course
    from coursetools.release.bundle import build_bundles

    course = load_course()
    archive = build_bundles(course, course.module("01"), Path(dist_of(released_01)))["gradescope"]
    tasks = [engines.Task(p.name, p) for p in sorted(submissions.iterdir())]
    engine.run(archive, course.module("01").files, tasks, store)
    assert killed and set(stored) == {t.name for t in tasks}
    assert all(o["status"] == "graded" for o in stored.values()), {n: o["reason"] for n, o in stored.items()}
    assert [stored[n]["results"]["score"] > 0 for n in sorted(stored)] == [True, False, False, True]


def test_ctrl_c_on_dask_then_rerun_equals_one_uninterrupted_run(cluster, released_01, tmp_path, ctrl_c_after_first_result):
    """Ctrl-C cancels the queued tasks at once and writes nothing half-done; tasks already running on
    a worker finish there and are dropped; the same command again grades exactly what is missing."""
    address, _ = cluster
    submissions = make_submissions(released_01, tmp_path / "submissions", 4)  # every kind: solution, skeleton, broken
    results = tmp_path / "results"
    command = [sys.executable, "-m", "coursetools", "grade-batch", "--module", "01", "--submissions",
               str(submissions), "--results", str(results), "--dist", dist_of(released_01), "--engine", "dask",
               "--scheduler", address]
    ctrl_c_after_first_result(command, results)
    index = json.loads((results / "index.json").read_text())["submissions"]
    graded = {name for name, entry in index.items() if entry["status"] == "graded"}
    assert graded and len(graded) < 4, index
    assert all((results / name / "results.json").is_file() for name in graded)

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"{4 - len(graded)} to grade, {len(graded)} already graded" in rerun.stdout
    straight = tmp_path / "straight"
    batch.main(module="01", submissions=str(submissions), results=str(straight), dist=dist_of(released_01), jobs=2)
    assert outcome_of(results) == outcome_of(straight)
