"""How fast ``make grade-batch`` grades on Dask with two workers, against the local pool with two jobs.

    python benchmarks/grade_batch_engines.py [--count 40] [--rounds 2]

Releases module 01 into a scratch folder, makes ``--count`` submissions (solutions, skeletons and
a syntax error in turn), starts a real local Dask cluster (a scheduler and two single-threaded
worker processes on 127.0.0.1) and grades the same submissions with both engines, in the order
dask, local, local, dask, ... so that a drift in the machine's load hits both alike. Prints each
run's wall time and throughput, the medians, their ratio and the load average, and each engine's
overhead: the wall time minus the submissions' own grading seconds shared by the two workers (what
the engine adds, apart from a drift of the machine that slows the gradings themselves); checks
that both engines gave the same score for every submission.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from coursetools.grade import batch, engines
from coursetools.manifest import load_course
from coursetools.release.pipeline import release_module

BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=40, help="submissions per run")
    parser.add_argument("--rounds", type=int, default=2, help="pairs of runs (dask+local, then local+dask, ...)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="engines-bench-") as scratch:
        root = Path(scratch)
        course = load_course()
        released = release_module(course, course.module("01"), root / "dist")
        submissions = make_submissions(released, root / "submissions", args.count)
        times: dict[str, list[float]] = {"dask, 2 workers": [], "local pool, 2 jobs": []}
        overheads: dict[str, list[float]] = {label: [] for label in times}
        scores: dict[str, dict] = {}
        load_before = os.getloadavg()[0]
        with local_cluster(workers=2) as address:
            for run, label in enumerate(order(args.rounds)):
                options = {"engine": "dask", "scheduler": address} if label.startswith("dask") else {"jobs": 2}
                started = time.monotonic()
                scores[label] = batch.main(module="01", submissions=str(submissions),
                                           results=str(root / f"results-{run}"), dist=str(root / "dist"), **options)
                times[label].append(time.monotonic() - started)
                overheads[label].append(times[label][-1] - grading_seconds(root / f"results-{run}") / 2)
                print(f"  run {run + 1}: {label:20s} {times[label][-1]:7.1f} s "
                      f"({60 * args.count / times[label][-1]:.1f} submissions/min; engine overhead "
                      f"{overheads[label][-1]:.1f} s)", flush=True)
        dask, local = (statistics.median(times[label]) for label in times)
        print(f"{args.count} submissions, medians of {args.rounds} runs each: dask {dask:.1f} s, local pool "
              f"{local:.1f} s; dask / local = {dask / local:.2f} (load average {load_before:.1f} before, "
              f"{os.getloadavg()[0]:.1f} after, {os.cpu_count()} cores)")
        print("engine overhead (wall time minus the submissions' own grading seconds / 2 workers), medians: "
              + ", ".join(f"{label} {statistics.median(values):.1f} s" for label, values in overheads.items()))
        differing = [name for name in scores["local pool, 2 jobs"]
                     if scores["local pool, 2 jobs"][name] != scores["dask, 2 workers"][name]]
        print("same score for every submission on both engines" if not differing
              else f"scores differ for {', '.join(differing)}")
        sys.exit(1 if differing else 0)


def grading_seconds(results: Path) -> float:
    """The sum of every submission's own grading time in a batch's RESULTS (its status files)."""
    return sum(json.loads(status.read_text(encoding="utf-8")).get("seconds") or 0.0
               for status in results.glob(f"*/{batch.STATUS}"))


def order(rounds: int) -> list[str]:
    """dask, local, local, dask, dask, local, ...: each engine runs first half of the time."""
    pair = ["dask, 2 workers", "local pool, 2 jobs"]
    return [label for r in range(rounds) for label in (pair if r % 2 == 0 else pair[::-1])]


def make_submissions(released: dict, folder: Path, count: int) -> Path:
    """count module-01 submissions: the solution, the skeleton and a syntax error, in turn."""
    for k in range(count):
        target = folder / f"s{k:03d}"
        if k % 3 == 2:
            (target / "tinytorch" / "core").mkdir(parents=True)
            (target / "tinytorch" / "core" / "tensor.py").write_text("def oops(:\n", encoding="utf-8")
        else:
            shutil.copytree(released["solution" if k % 3 == 0 else "skeleton"], target,
                            ignore=shutil.ignore_patterns(".git"))
    return folder


@contextmanager
def local_cluster(workers: int):
    """A Dask scheduler and ``workers`` single-threaded workers on 127.0.0.1; yields the address."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
    processes = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
                                   address.split(":")[1], "--no-dashboard"], **quiet)]
    processes += [subprocess.Popen([str(BIN / "dask"), "worker", f"tcp://{address}", "--nthreads", "1",
                                    "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{k}"], **quiet)
                  for k in range(workers)]
    try:
        wait_for_workers(address, workers)
        yield address
    finally:
        for process in processes:
            engines.kill_tree(process.pid)
            process.wait()


def wait_for_workers(address: str, count: int, seconds: float = 60) -> None:
    from distributed import Client

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with Client(address, timeout="5s") as client:
                if len(client.scheduler_info()["workers"]) == count:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the local Dask cluster at {address} did not come up in {seconds:.0f} s")


if __name__ == "__main__":
    main()
