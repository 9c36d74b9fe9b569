"""Choosing threads on purpose: how many BLAS threads, how many data-parallel workers.

NumPy's BLAS starts one thread per core by default and spins while it waits. When other jobs
already keep the cores busy, or when several workers each call BLAS, those threads fight for the
same cores and a step can take ten times longer than with one thread (measured here: 10.6 s per
CNN step unpinned on a loaded machine, 1.1 s with one thread). So benchmarks, milestones and
``tito benchmark`` pick the numbers from the cores they may use and the load already on them,
print the choice, and take ``--threads`` / ``--workers`` to override it.

threadpoolctl (a tool of the course's commands, never a dependency of tinytorch itself) sets the BLAS
pool size at run time, so the choice holds even when NumPy was imported first.

    from coursetools.threads import add_thread_options, choose_threads
    add_thread_options(parser)                       # --threads N, --workers N
    choice = choose_threads(args.threads, args.workers)
    print(choice.describe())
    with choice.limit():                             # BLAS at choice.blas_threads inside
        train()
"""

from __future__ import annotations

import argparse
import os
from contextlib import contextmanager
from dataclasses import dataclass


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def load_average() -> float | None:
    """One-minute load average (runnable jobs, this one included once it runs), None where unknown."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


@dataclass(frozen=True)
class ThreadChoice:
    """How a run uses the machine: ``workers`` data-parallel threads, each calling BLAS with
    ``blas_threads`` threads; ``total`` = workers x blas_threads is what a fair comparison
    (PyTorch's ``set_num_threads``) gets too."""

    blas_threads: int
    workers: int
    cores: int
    load: float | None
    reason: str

    @property
    def total(self) -> int:
        return self.blas_threads * self.workers

    def describe(self) -> str:
        load = "unknown" if self.load is None else f"{self.load:.1f}"
        return (f"threads: {self.workers} worker(s) x {self.blas_threads} BLAS thread(s) "
                f"({self.cores} usable cores, load {load}; {self.reason}; override with --threads N --workers N)")

    @contextmanager
    def limit(self, blas_threads: int | None = None):
        """Inside the block BLAS (and OpenMP) pools use ``blas_threads`` (default: this choice's)."""
        threadpool_limits = _threadpoolctl().threadpool_limits

        with threadpool_limits(limits=blas_threads or self.blas_threads):
            yield

    def as_dict(self) -> dict:
        return {"blas_threads": self.blas_threads, "workers": self.workers, "cores": self.cores,
                "load_average_1min": self.load, "reason": self.reason}


def choose_threads(threads: int | None = None, workers: int | None = None, cores: int | None = None,
                   load: float | None = None, max_workers: int = 2) -> ThreadChoice:
    """The thread plan for a run; explicit ``threads`` / ``workers`` always win.

    Free cores = usable cores minus the load already running (at least 1). Without overrides:
    workers = free cores (at most ``max_workers``: 2 for module 18's batch split, which gains little
    beyond; 1 for a run without data-parallel workers), and BLAS
    threads = free cores // workers, so the run never asks for more threads than free cores.
    """
    for name, value in (("threads", threads), ("workers", workers)):
        if value is not None and value < 1:
            raise ValueError(f"--{name} must be a positive number of threads, got {value}")
    cores = cores or usable_cores()
    load = load_average() if load is None else load
    free = cores if load is None else max(1, min(cores, int(cores - load + 0.5)))
    reason = "shared machine: only the free cores" if free < cores else "idle machine: all cores"
    if workers is None:
        workers = max(1, min(free, max_workers)) if threads is None else max(1, min(max_workers, free // threads))
    else:
        reason = "workers given"
    if threads is None:
        threads = max(1, free // workers)
    else:
        reason = "threads given" if reason != "workers given" else "threads and workers given"
    return ThreadChoice(blas_threads=threads, workers=workers, cores=cores, load=load, reason=reason)


def add_thread_options(parser: argparse.ArgumentParser, workers: bool = True) -> None:
    """--threads (and --workers) on a command line; both default to choose_threads' plan."""
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads per worker (default: free cores / workers)")
    if workers:
        parser.add_argument("--workers", type=int, default=None,
                            help="data-parallel worker threads for the accelerated path (default: free cores, at most 2)")


def _threadpoolctl():
    try:
        import threadpoolctl
    except ImportError:
        raise SystemExit("choosing BLAS threads needs threadpoolctl, which is not installed: "
                         "pip install threadpoolctl (or run with OPENBLAS_NUM_THREADS=N set yourself)") from None
    return threadpoolctl


def kernel_note(environ=os.environ, pools: list[dict] | None = None) -> str:
    """Which kernels the loaded BLAS runs, and whether the environment forced them.

    OpenBLAS picks its kernels for the CPU when it loads, unless ``OPENBLAS_CORETYPE`` names a
    family. Some machines set it (with ``OPENBLAS_L2_SIZE``) for old OpenBLAS builds that crashed
    on their CPU; a current NumPy then runs narrower kernels than the CPU has: on this project's
    AVX-512 machines, Haswell (AVX2) instead of SkylakeX, half the matmul speed
    (``python benchmarks/blas_kernels.py`` measures both). The note says so; nothing is changed.
    """
    pools = blas_description() if pools is None else pools
    kernels = ", ".join(sorted({pool["architecture"] for pool in pools if pool.get("architecture")})) or "unknown"
    forced = environ.get("OPENBLAS_CORETYPE")
    if forced:
        return (f"BLAS kernels: {kernels}, forced by OPENBLAS_CORETYPE={forced} in the environment "
                f"(unset it and OPENBLAS_L2_SIZE to let OpenBLAS choose for this CPU)")
    return f"BLAS kernels: {kernels} (OpenBLAS's choice for this CPU)"


def blas_description() -> list[dict]:
    """The BLAS/OpenMP libraries loaded in this process, as threadpoolctl reports them."""
    threadpool_info = _threadpoolctl().threadpool_info
    keep = ("user_api", "internal_api", "version", "num_threads", "threading_layer", "architecture", "prefix")
    return [{key: pool.get(key) for key in keep} for pool in threadpool_info()]
