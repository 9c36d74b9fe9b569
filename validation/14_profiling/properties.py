"""Randomized properties that confirm module 14's equivalent marks (docs/DESIGN.md section 10)."""

import tracemalloc

import numpy as np

from tinytorch.perf.profiling import peak_memory


def peaks_of_allocations(rng):
    """peak_memory of functions that allocate and free arrays of random sizes, with and without a running trace."""
    sizes = [int(n) for n in rng.integers(1, 200_000, size=int(rng.integers(1, 4)))]
    keep = []

    def allocate():
        for size in sizes:
            block = np.ones(size, dtype=np.uint8)
            if rng.random() < 0.5:
                keep.append(block)
        return None

    outside = peak_memory(allocate)
    tracemalloc.start()
    try:
        held = np.ones(int(rng.integers(1, 50_000)), dtype=np.uint8)
        inside = peak_memory(allocate)
        del held
    finally:
        tracemalloc.stop()
    keep.clear()
    return outside // 4096, inside // 4096, peak_memory(lambda: None)
