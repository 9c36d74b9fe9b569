"""Benchmark: float32 matmul speed with OpenBLAS's own kernel choice and with each kernel family asked for.

Each family runs in a fresh process (OpenBLAS reads ``OPENBLAS_CORETYPE`` only when it loads), one
BLAS thread, on the matmul shapes of a 1024-cube and of the milestone CNN's convolutions; best of 5
calls after one warm-up. Shows whether ``coursetools.blas_kernels`` has something to gain here.

    python benchmarks/blas_kernels.py [--families Haswell SkylakeX]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

SHAPES = [(1024, 1024, 1024), (32768, 288, 32), (32768, 576, 64), (8192, 576, 128)]

MEASURE = """
import json, time, numpy as np, threadpoolctl
threadpoolctl.threadpool_limits(1)
info = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
rates = []
for m, k, n in SHAPES:
    rng = np.random.default_rng(0)
    a, b = rng.random((m, k), dtype=np.float32), rng.random((k, n), dtype=np.float32)
    out = np.empty((m, n), np.float32)
    np.matmul(a, b, out=out)
    best = min(_time(lambda: np.matmul(a, b, out=out)) for _ in range(5))
    rates.append(2 * m * k * n / best / 1e9)
print(json.dumps({"kernels": info[0].get("architecture") if info else "unknown", "gflops": rates}))
"""

PRELUDE = """
import time
def _time(fn):
    start = time.perf_counter(); fn(); return time.perf_counter() - start
"""


def measure(family: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    if family:
        env["OPENBLAS_CORETYPE"] = family
    code = PRELUDE + f"SHAPES = {SHAPES!r}\n" + MEASURE
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=["SkylakeX"], help="OPENBLAS_CORETYPE values to try")
    args = parser.parse_args()
    rows = [("OpenBLAS's own choice", measure(None))] + [(f"OPENBLAS_CORETYPE={f}", measure(f)) for f in args.families]
    print(f"float32 matmul, 1 BLAS thread, GFLOP/s (best of 5; load average {os.getloadavg()[0]:.1f})")
    print(f"  {'asked':28s} {'kernels':10s} " + " ".join(f"{'x'.join(map(str, s)):>15s}" for s in SHAPES))
    for label, result in rows:
        print(f"  {label:28s} {result['kernels']:10s} " + " ".join(f"{r:15.1f}" for r in result["gflops"]))


if __name__ == "__main__":
    main()
