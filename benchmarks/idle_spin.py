"""Benchmark: how long a step's thread pools keep a core busy after the step has returned.

Thread pools spin for a while before they sleep: OpenBLAS's worker threads (module 09's path,
BLAS at 2 threads) and PyTorch's OpenMP threads. In a benchmark that alternates variants in one
process, that spinning lands in the next variant's time and takes a core from it; this is why
``paired.rounds`` pauses (``SETTLE_SECONDS``) before each timed run. Prints the process CPU time
used while the calling thread sleeps, for several windows after one CNN training step.
"""

from __future__ import annotations

import time

import numpy as np

from cnn_step import tinytorch_cnn, tinytorch_step, torch_step
from coursetools.threads import choose_threads
from paired import SETTLE_SECONDS, with_blas_threads

WINDOWS = (0.01, 0.05, 0.1, 0.2, 0.5)


def spin_after(step) -> list[float]:
    """CPU ms used while sleeping each window right after one call of ``step``."""
    step()
    used = []
    for window in WINDOWS:
        step()
        cpu = time.process_time()
        time.sleep(window)
        used.append(1000 * (time.process_time() - cpu))
    return used


def main() -> None:
    choice = choose_threads(2, 1)
    rng = np.random.default_rng(0)
    steps = {"tinytorch module 09 path (OpenBLAS, 2 threads)":
             with_blas_threads(choice, 2, tinytorch_step(tinytorch_cnn(rng), 128, rng))}
    try:
        import torch
        torch.set_num_threads(2)
        steps[f"PyTorch {torch.__version__} (OpenMP, 2 threads)"] = torch_step(128, rng, channels_last=False)
    except ImportError:
        print("PyTorch not installed (pip install torch==2.13.0): OpenBLAS only")
    print("CPU ms used while the caller sleeps after one CNN step, by sleep window (ms):")
    print(f"  {'step':<50}" + "".join(f"{1000 * w:>8.0f}" for w in WINDOWS))
    for name, step in steps.items():
        print(f"  {name:<50}" + "".join(f"{ms:8.1f}" for ms in spin_after(step)))
    print(f"paired.rounds pauses {1000 * SETTLE_SECONDS:.0f} ms before each timed run (TINYTORCH_BENCH_SETTLE)")


if __name__ == "__main__":
    main()
