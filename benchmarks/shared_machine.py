"""Benchmark: how much the course's commands slow down when another 2-thread job shares the machine.

Each command runs alone, then beside a neighbour (a separate process keeping two threads busy with
float32 matmuls, as another student's training run would), then alone again; the slowdown is its
wall time beside the neighbour over the mean of the two alone. The neighbour starts ``--settle``
seconds before the command, so the load average the command reads when it chooses its threads
(coursetools.threads) already shows the neighbour, as it would for a job that was running first.

    python benchmarks/shared_machine.py [--settle 60] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import os
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


def wall_time(command: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.monotonic() - started


def beside_neighbour(command: list[str], settle: float) -> tuple[float, float]:
    """The command's wall time with the neighbour running, and the load average it started at."""
    neighbour = subprocess.Popen([sys.executable, "-c", NEIGHBOUR])
    try:
        time.sleep(settle)
        load = os.getloadavg()[0]
        return wall_time(command), load
    finally:
        neighbour.kill()
        neighbour.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle", type=float, default=60.0, help="seconds the neighbour runs before the command")
    parser.add_argument("--only", nargs="+", help="measure only the commands whose name contains one of these")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shared-machine-") as scratch:
        chosen = {name: cmd for name, cmd in commands(Path(scratch)).items()
                  if not args.only or any(part in name for part in args.only)}
        print(f"{os.cpu_count()} cores; neighbour: 2 threads of float32 matmul, started {args.settle:.0f} s before")
        print(f"  {'command':52s} {'alone s':>8s} {'shared s':>9s} {'slowdown':>9s}  load at start")
        worst = 0.0
        for name, command in chosen.items():
            time.sleep(args.settle / 2)  # let the load average fall back after the previous neighbour
            first = wall_time(command)
            shared, load = beside_neighbour(command, args.settle)
            time.sleep(args.settle / 2)
            again = wall_time(command)
            alone = (first + again) / 2
            worst = max(worst, shared / alone)
            print(f"  {name:52s} {alone:8.1f} {shared:9.1f} {shared / alone:8.2f}x  {load:.1f}", flush=True)
        print(f"worst slowdown beside a 2-thread job: {worst:.2f}x")


if __name__ == "__main__":
    main()
