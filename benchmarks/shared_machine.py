"""Benchmark: how much the course's commands slow down when another 2-thread job shares the machine.

Each command runs alone, then beside a neighbour (a separate process keeping two threads busy with
float32 matmuls, as another student's training run would), then alone again, ``--repeats`` times each;
the slowdown is its median wall time beside the neighbour over its median alone (the runs before
and after together). One run of a command that takes a second says little: process start-up
beside a busy neighbour swings by a factor of 1.7 from run to run (0.77-1.30 s for module 09's
tests, measured here), so the short commands need the medians. The neighbour starts ``--settle``
seconds before the command, as a job that was running first would; the "load at start" column is
the load average then (the command's own thread plan measures busy cores, coursetools.threads).

    python benchmarks/shared_machine.py [--settle 60] [--repeats 3] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

NEIGHBOUR = """
import numpy as np, threadpoolctl
threadpoolctl.threadpool_limits(2)
a = np.random.default_rng(0).random((1536, 1536), dtype=np.float32)
while True:
    a @ a
"""


def commands(scratch: Path) -> dict[str, list[str]]:
    """The measured commands: what a student or an instructor runs on a machine they may share."""
    py = sys.executable
    return {
        "make milestone M=04 ARGS=--quick (CIFAR-10 script)": [
            py, "milestones/04_1998_cnn/cnn_cifar10.py", "--quick", "--results", str(scratch)],
        "CNN step benchmark, tinytorch paths": [
            py, "benchmarks/cnn_step.py", "--repeats", "3", "--no-torch", "--out", str(scratch / "cnn.json")],
        "GPT step benchmark, tinytorch paths": [
            py, "benchmarks/gpt_tokens.py", "--repeats", "3", "--no-torch", "--out", str(scratch / "gpt.json")],
        "module 09's tests": [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/09_spatial"],
    }


def wall_times(command: list[str], repeats: int) -> list[float]:
    """The command's wall time in seconds, ``repeats`` runs one after the other."""
    times = []
    for _ in range(repeats):
        started = time.monotonic()
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.monotonic() - started)
    return times


def beside_neighbour(command: list[str], settle: float, repeats: int) -> tuple[list[float], float]:
    """The command's wall times with the neighbour running, and the load average they started at."""
    neighbour = subprocess.Popen([sys.executable, "-c", NEIGHBOUR])
    try:
        time.sleep(settle)
        load = os.getloadavg()[0]
        return wall_times(command, repeats), load
    finally:
        neighbour.kill()
        neighbour.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle", type=float, default=60.0, help="seconds the neighbour runs before the command")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each command alone (before and after) and shared")
    parser.add_argument("--only", nargs="+", help="measure only the commands whose name contains one of these")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shared-machine-") as scratch:
        chosen = {name: cmd for name, cmd in commands(Path(scratch)).items()
                  if not args.only or any(part in name for part in args.only)}
        print(f"{os.cpu_count()} cores; neighbour: 2 threads of float32 matmul, started {args.settle:.0f} s before; "
              f"medians of {args.repeats} runs shared and {2 * args.repeats} alone")
        print(f"  {'command':52s} {'alone s':>8s} {'shared s':>9s} {'slowdown':>9s}  load at start")
        worst = 0.0
        for name, command in chosen.items():
            time.sleep(args.settle / 2)  # let the load average fall back after the previous neighbour
            before = wall_times(command, args.repeats)
            shared_runs, load = beside_neighbour(command, args.settle, args.repeats)
            time.sleep(args.settle / 2)
            alone = statistics.median(before + wall_times(command, args.repeats))
            shared = statistics.median(shared_runs)
            worst = max(worst, shared / alone)
            print(f"  {name:52s} {alone:8.1f} {shared:9.1f} {shared / alone:8.2f}x  {load:.1f}", flush=True)
        print(f"worst slowdown beside a 2-thread job: {worst:.2f}x")


if __name__ == "__main__":
    main()
