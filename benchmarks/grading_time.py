"""Grading time of one module through its bundle, remote runtime vs in-process, interleaved.

    python benchmarks/grading_time.py 01 [--repeats 3]

Grades the module's solution repo (dist/solutions/NN_slug, built by ``make release-module``) with
the bundle in dist/graders/NN_slug/gradescope, once per runtime per repeat, alternating, and prints
the median wall time of each and their ratio. Run as root for the sandbox of Gradescope.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("module")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "scripts"))
    from coursetools.manifest import load_course

    module = load_course(ROOT).module(args.module)
    bundle = ROOT / "dist" / "graders" / module.dirname / "gradescope"
    solution = ROOT / "dist" / "solutions" / module.dirname
    if not bundle.is_dir() or not solution.is_dir():
        sys.exit(f"no release of module {module.number}: run make release-module MODULE={module.number} first")
    sys.path.insert(0, str(bundle))
    from tinytorch_grader import run

    config = json.loads((bundle / "grader.json").read_text(encoding="utf-8"))
    times: dict[str, list[float]] = {"remote": [], "in-process": []}
    for _ in range(args.repeats):
        for runtime in times:
            config["module"]["runtime"] = runtime
            started = time.perf_counter()
            result, _ = run.grade(config, bundle, solution)
            times[runtime].append(time.perf_counter() - started)
            print(f"{runtime:>10}: {result.score:g} / {result.max_score:g} in {times[runtime][-1]:.1f} s", flush=True)
    remote, local = statistics.median(times["remote"]), statistics.median(times["in-process"])
    print(f"module {module.number}: remote {remote:.1f} s, in-process {local:.1f} s, ratio {remote / local:.2f}")


if __name__ == "__main__":
    main()
