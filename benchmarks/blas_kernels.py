"""Benchmark: float32 matmul speed with the BLAS kernels this environment forces and with OpenBLAS's own choice.

Some machines set ``OPENBLAS_CORETYPE`` (and ``OPENBLAS_L2_SIZE``) for old OpenBLAS builds; a current
NumPy then runs narrower kernels than the CPU has (``coursetools.threads.kernel_note`` says so in
every benchmark's header). Each setting runs in a fresh process (OpenBLAS reads them only when it
loads), one BLAS thread, on a 1024-cube and on the GEMM shapes of the milestone CNN's convolutions;
best of 5 calls after one warm-up.

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


def measure(family: str | None, inherit: bool = False) -> dict:
    """GFLOP/s per shape in a fresh process: this environment as it is (``inherit``), else with the
    two OpenBLAS settings unset and ``family`` (if given) asked for."""
    env = dict(os.environ) if inherit else {k: v for k, v in os.environ.items()
                                             if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    if family:
        env["OPENBLAS_CORETYPE"] = family
    code = PRELUDE + f"SHAPES = {SHAPES!r}\n" + MEASURE
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="*", default=[], help="OPENBLAS_CORETYPE values to try as well")
    args = parser.parse_args()
    forced = os.environ.get("OPENBLAS_CORETYPE")
    rows = [(f"as set here ({'OPENBLAS_CORETYPE=' + forced if forced else 'nothing forced'})", measure(None, inherit=True)),
            ("OpenBLAS's own choice", measure(None))]
    rows += [(f"OPENBLAS_CORETYPE={family}", measure(family)) for family in args.families]
    print(f"float32 matmul, 1 BLAS thread, GFLOP/s (best of 5; load average {os.getloadavg()[0]:.1f})")
    print(f"  {'setting':40s} {'kernels':10s} " + " ".join(f"{'x'.join(map(str, s)):>15s}" for s in SHAPES))
    for label, result in rows:
        print(f"  {label:40s} {result['kernels']:10s} " + " ".join(f"{r:15.1f}" for r in result["gflops"]))


if __name__ == "__main__":
    main()
