"""Timing several variants of one step in one process, and writing the result with the machine's description.

Load on a shared machine drifts from second to second; timing every variant once per round, in a
rotating order, and keeping medians makes the drift hit all variants alike, so the ratios hold
even where the absolute times do not.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from coursetools.threads import blas_description, load_average, usable_cores

RESULTS = Path(__file__).resolve().parent / "results"


SETTLE_SECONDS = float(os.environ.get("TINYTORCH_BENCH_SETTLE", "0.15"))
"""Pause before each timed run. Thread pools spin before they sleep: OpenBLAS's workers for about
100 ms after module 09's step, PyTorch's OpenMP threads about 10 ms after its step
(``python benchmarks/idle_spin.py`` measures both); without a pause that spinning
takes a core from whichever variant runs next. 0 turns the pause off."""


def rounds(variants: dict, repeats: int, settle: float = SETTLE_SECONDS) -> dict[str, float]:
    """Median ms per variant: one warm-up each, then ``repeats`` rounds, one run of each per
    round, the order rotated every round so no variant always follows the same one, and
    ``settle`` seconds of pause before each run (outside its time)."""
    names = list(variants)
    for name in names:
        variants[name]()
    times = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            time.sleep(settle)
            start = time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - start)
    return {name: 1000 * float(np.median(values)) for name, values in times.items()}


def with_blas_threads(choice, threads: int, fn):
    """``fn`` run with BLAS limited to ``threads`` threads (threadpoolctl), every call."""
    def run():
        with choice.limit(threads):
            fn()
    return run


def profile_step(step, choice, repeats: int, sort: str = "tottime", top: int = 12) -> None:
    """Where a step's time goes: wall and process CPU time per step (CPU / wall near the worker
    count means the workers kept the cores busy, far below it that they waited, on the GIL or each
    other), then two steps under cProfile, the ``top`` functions by ``sort`` (``tottime``: own time;
    ``cumtime``: with callees, which names the layers when worker threads do the work)."""
    import cProfile
    import pstats

    with choice.limit():
        step()
        walls, cpus = [], []
        for _ in range(repeats):
            wall, cpu = time.perf_counter(), time.process_time()
            step()
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        wall_ms, cpu_ms = 1000 * float(np.median(walls)), 1000 * float(np.median(cpus))
        print(f"accelerated step, medians of {repeats}: wall {wall_ms:.1f} ms, process CPU {cpu_ms:.1f} ms "
              f"(CPU / wall {cpu_ms / wall_ms:.2f} with {choice.workers} worker(s); load average {format_load(load_average())})")
        profiler = cProfile.Profile()
        profiler.runcall(lambda: (step(), step()))
    pstats.Stats(profiler).sort_stats(sort).print_stats(top)


def format_load(value) -> str:
    return "unknown" if value is None else f"{value:.1f}"


def cpu_model() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_state(load, cores: int) -> str:
    """'idle' or 'shared' from the load already running when the benchmark started."""
    if load is None:
        return "unknown (no load average on this system)"
    state = "idle" if load < 0.5 * cores else "shared"
    return f"{state}: load average {load:.1f} on {cores} cores when the run started"


def machine_description(choice) -> dict:
    """Cores, CPU, platform, Python, NumPy, the BLAS libraries loaded and the thread plan."""
    return {"cores": usable_cores(), "cpu": cpu_model(), "platform": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__, "blas": blas_description(),
            "threads": choice.as_dict()}


def write_result(path: Path, name: str, choice, load_before, **fields) -> None:
    """One JSON file: what ran (command, settings), the medians, the load before and after, the machine."""
    result = {"benchmark": name, "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "command": " ".join(["python", *sys.argv]), **fields,
              "load_average_before": load_before, "load_average_after": load_average(),
              "machine_state": machine_state(load_before, usable_cores()),
              "machine": machine_description(choice)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {path}")
