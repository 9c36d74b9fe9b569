"""Benchmark: does ``make test`` pass run after run on a 2-core machine that another job keeps busy?

Starts the neighbour of ``shared_machine.py`` (two threads of float32 matmul, as another student's
training run would), then runs ``make test`` ``--runs`` times in a row in this checkout, and prints
per run: exit code, wall time, the load average at its start and end, and pytest's summary line.
Stops at the first failing run. A JSON record goes to ``--out`` (commit, machine, runs).

    python benchmarks/loaded_make_test.py [--runs 3] [--settle 60] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from shared_machine import NEIGHBOUR

ROOT = Path(__file__).resolve().parents[1]


def summary_line(output: str) -> str:
    """pytest's last line (``N passed, M failed ... in S s``), or the last line there is."""
    lines = [line.strip("= ") for line in output.splitlines() if line.strip()]
    found = [line for line in lines if " in " in line and ("passed" in line or "failed" in line)]
    return (found or lines or [""])[-1]


def one_run(log: Path) -> dict:
    load_start = os.getloadavg()[0]
    started = time.monotonic()
    with log.open("w") as sink:
        code = subprocess.run(["make", "test"], cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT).returncode
    output = log.read_text(errors="replace")
    return {"returncode": code, "seconds": round(time.monotonic() - started, 1), "load_start": round(load_start, 2),
            "load_end": round(os.getloadavg()[0], 2), "summary": summary_line(output), "log": log.name}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=60.0, help="seconds the neighbour runs before the first run")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "loaded_make_test.json")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    record = {"commit": commit, "cores": os.cpu_count(), "machine": platform.platform(),
              "neighbour": "2 threads of float32 matmul (benchmarks/shared_machine.py)", "runs": []}
    neighbour = subprocess.Popen([sys.executable, "-c", NEIGHBOUR])
    try:
        time.sleep(args.settle)
        for index in range(1, args.runs + 1):
            run = one_run(args.out.with_name(f"{args.out.stem}_run{index}.log"))
            record["runs"].append(run)
            print(f"run {index}: exit {run['returncode']}, {run['seconds']:.0f} s, load {run['load_start']:.1f}"
                  f" -> {run['load_end']:.1f}: {run['summary']}", flush=True)
            args.out.write_text(json.dumps(record, indent=2) + "\n")
            if run["returncode"] != 0:
                break
    finally:
        neighbour.kill()
        neighbour.wait()
    passed = sum(run["returncode"] == 0 for run in record["runs"])
    print(f"{passed} of {args.runs} runs passed in a row beside a 2-thread job (commit {commit[:10]})")
    sys.exit(0 if passed == args.runs else 1)


if __name__ == "__main__":
    main()
