"""Choosing threads on purpose: how many BLAS threads, how many data-parallel workers.

NumPy's BLAS starts one thread per core by default and spins while it waits. When other jobs
already keep the cores busy, or when several workers each call BLAS, those threads fight for the
same cores and a step can take ten times longer than with one thread (measured here: 10.6 s per
CNN step unpinned on a loaded machine, 1.1 s with one thread). So benchmarks, milestones and
``tito benchmark`` pick the numbers from the cores they may use and how many of them other jobs keep
busy right now (the machine's CPU time over half a second, from /proc/stat; the one-minute load
average where there is no /proc), print the choice, and take ``--threads`` / ``--workers`` to
override it. The load average is a poor guide at the start of a run: it trails by a minute, so just
after another job ended it still counts that job (measured here: a `make benchmark` started 30 s
after a previous one read load 0.6-0.9 on an idle machine and ran on one core of two), and just
after a neighbour started it does not count it yet.

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
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SAMPLE_SECONDS = 0.5
"""How long busy_cores watches the machine: long enough to average a neighbour's bursts."""


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


def cpu_times(stat_text: str) -> tuple[int, int]:
    """(all, idle) clock ticks of every CPU so far, from the text of /proc/stat (its first line,
    ``cpu user nice system idle iowait irq softirq steal ...``; idle counts idle and iowait)."""
    ticks = [int(value) for value in stat_text.split("\n", 1)[0].split()[1:9]]
    return sum(ticks), ticks[3] + ticks[4]


def busy_cores(seconds: float = SAMPLE_SECONDS, cores: int | None = None) -> float | None:
    """How many cores the machine's processes keep busy right now: the non-idle share of CPU time
    over ``seconds``, times the cores (None where there is no /proc/stat). This process sleeps
    while it measures, so the figure is the other jobs' use."""
    stat = Path("/proc/stat")
    try:
        before = cpu_times(stat.read_text())
        time.sleep(seconds)
        after = cpu_times(stat.read_text())
    except (OSError, ValueError, IndexError):
        return None
    elapsed = after[0] - before[0]
    if elapsed <= 0:
        return None
    return (1 - (after[1] - before[1]) / elapsed) * (cores or os.cpu_count() or 1)


def current_load() -> tuple[float | None, str]:
    """Busy cores now (``busy_cores``), else the one-minute load average; with what it is."""
    busy = busy_cores()
    if busy is not None:
        return busy, f"busy cores over {SAMPLE_SECONDS:g} s"
    return load_average(), "load average"


@dataclass(frozen=True)
class ThreadChoice:
    """How a run uses the machine: ``workers`` data-parallel threads, each calling BLAS with
    ``blas_threads`` threads; ``total`` = workers x blas_threads. A path without workers (module
    09's layers, PyTorch) gets ``serial_threads``: the same as ``total`` on an idle machine, never
    more BLAS threads than free cores on a busy one."""

    blas_threads: int
    workers: int
    cores: int
    load: float | None
    reason: str
    measure: str = "load"
    free: int | None = None
    """Cores other jobs left free when the plan was made (None: not measured, numbers given)."""

    @property
    def total(self) -> int:
        return self.blas_threads * self.workers

    @property
    def serial_threads(self) -> int:
        """BLAS threads for a path that makes one BLAS call at a time: ``total``, capped at the free
        cores, since BLAS threads spin while they wait and a busy core makes them wait."""
        return self.total if self.free is None else max(1, min(self.total, self.free))

    def describe(self) -> str:
        load = "unknown" if self.load is None else f"{self.load:.1f}"
        serial = f", {self.serial_threads} for one-call-at-a-time paths" if self.serial_threads != self.total else ""
        return (f"threads: {self.workers} worker(s) x {self.blas_threads} BLAS thread(s){serial} "
                f"({self.cores} usable cores, {self.measure} {load}; {self.reason}; override with --threads N --workers N)")

    @contextmanager
    def limit(self, blas_threads: int | None = None):
        """Inside the block BLAS (and OpenMP) pools use ``blas_threads`` (default: this choice's)."""
        threadpool_limits = _threadpoolctl().threadpool_limits

        with threadpool_limits(limits=blas_threads or self.blas_threads):
            yield

    def as_dict(self) -> dict:
        return {"blas_threads": self.blas_threads, "workers": self.workers, "cores": self.cores,
                "serial_threads": self.serial_threads, "load": self.load, "load_measure": self.measure,
                "reason": self.reason}


def choose_threads(threads: int | None = None, workers: int | None = None, cores: int | None = None,
                   load: float | None = None, max_workers: int = 2) -> ThreadChoice:
    """The thread plan for a run; explicit ``threads`` / ``workers`` always win.

    Free cores = usable cores minus the load already running (at least 1): ``load`` when given,
    else what ``current_load`` measures. Without overrides:
    workers = usable cores (at most ``max_workers``: 2 for module 18's batch split, which gains little
    beyond; 1 for a run without data-parallel workers), and BLAS
    threads = free cores // workers (at least 1), so BLAS never asks for more threads than free cores.

    Workers count all the cores, busy or not: a worker that waits (for the interpreter or for the
    others) sleeps instead of spinning as a BLAS thread does, and beside a job that keeps both cores
    busy the scheduler gives two runnable workers a larger share of the machine than one. Measured
    beside a 2-thread matmul job (benchmarks/README.md, "Beside another job"): the accelerated CNN
    step took 901-924 ms with two workers against 1,046-1,169 ms with one, the GPT step 694-743 ms
    against 901-921 ms.
    """
    for name, value in (("threads", threads), ("workers", workers)):
        if value is not None and value < 1:
            raise ValueError(f"--{name} must be a positive number of threads, got {value}")
    both_given = threads is not None and workers is not None
    cores = cores or usable_cores()
    measure = "load"
    if load is None:
        load, measure = current_load()
    free = cores if load is None else max(1, min(cores, int(cores - load + 0.5)))
    reason = "shared machine: only the free cores" if free < cores else "idle machine: all cores"
    if workers is None:
        workers = max(1, min(cores, max_workers)) if threads is None else max(1, min(max_workers, cores // threads))
    else:
        reason = "workers given"
    if threads is None:
        threads = max(1, free // workers)
    else:
        reason = "threads given" if reason != "workers given" else "threads and workers given"
    return ThreadChoice(blas_threads=threads, workers=workers, cores=cores, load=load, reason=reason, measure=measure,
                        free=None if both_given else free)


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
