"""Module 14: latency percentiles and peak memory, measured against a fake clock and known allocations."""

import time

import numpy as np
import pytest

from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.tensor import Tensor
from tinytorch.perf import profiling
from tinytorch.perf.profiling import Latency, measure_latency, memory_footprint, peak_memory


class FakeClock:
    """Stands in for time.perf_counter: time moves only when a test says so."""

    def __init__(self):
        self.seconds = 1000.0  # not 0, so a sum of clock readings cannot pass for a difference

    def __call__(self) -> float:
        return self.seconds

    def advance_ms(self, ms: float) -> None:
        self.seconds += ms / 1e3


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(time, "perf_counter", fake)
    if hasattr(profiling, "time"):  # the time module where the code under test runs
        monkeypatch.setattr(profiling.time, "perf_counter", fake)
    monkeypatch.setattr(profiling, "perf_counter", fake, raising=False)
    return fake


def slower_each_call(clock):
    """A function whose k-th call takes k milliseconds."""
    calls = []

    def fn():
        calls.append(None)
        clock.advance_ms(len(calls))

    return fn, calls


def test_measure_latency_times_exactly_the_repeats(clock):
    fn, calls = slower_each_call(clock)
    latency = measure_latency(fn, warmup=3, repeats=20)
    assert len(calls) == 23
    np.testing.assert_allclose(latency.samples, np.arange(4, 24))


def test_measure_latency_summary_matches_numpy_percentiles(clock):
    fn, _ = slower_each_call(clock)
    latency = measure_latency(fn, warmup=2, repeats=10)
    samples = np.arange(3, 13, dtype=float)
    assert latency.mean_ms == pytest.approx(samples.mean())
    assert latency.p50_ms == pytest.approx(np.percentile(samples, 50))
    assert latency.p90_ms == pytest.approx(np.percentile(samples, 90))
    assert latency.p99_ms == pytest.approx(np.percentile(samples, 99))


def test_measure_latency_passes_the_arguments(clock):
    seen = []
    measure_latency(lambda a, b: seen.append((a, b)), 1, 2, warmup=1, repeats=2)
    assert seen == [(1, 2)] * 3


def test_latency_from_samples_keeps_them_in_order():
    latency = Latency.from_samples([5.0, 1.0, 3.0])
    assert latency.samples == (5.0, 1.0, 3.0)
    assert latency.p50_ms == pytest.approx(3.0)


# The measured functions are NumPy's as the code under test sees it (profiling.np), so they run and
# allocate in the process whose memory peak_memory traces.

def test_peak_memory_sees_a_temporary_array():
    peak = peak_memory(profiling.np.ones, 1_000_000)  # 8 MB, freed as soon as peak_memory drops it
    assert 8_000_000 <= peak < 9_000_000


def test_peak_memory_ignores_what_was_allocated_before():
    kept = Tensor(np.ones(2_000_000))  # 16 MB alive during the measurement
    peak = peak_memory(profiling.np.ones, 500_000)
    assert 4_000_000 <= peak < 5_000_000
    assert kept.shape == (2_000_000,)


def test_peak_memory_leaves_tracemalloc_as_it_found_it():
    assert not profiling.tracemalloc.is_tracing()
    peak_memory(profiling.np.ones, 10)
    assert not profiling.tracemalloc.is_tracing()


def test_memory_footprint_adds_parameters_and_activations(rng):
    model = Sequential(Linear(10, 20, rng=rng), Linear(20, 5, rng=rng))
    footprint = memory_footprint(model, Tensor(np.zeros((4, 10), dtype=np.float32)))
    assert footprint.parameter_bytes == (10 * 20 + 20 + 20 * 5 + 5) * 4
    assert footprint.activation_bytes == (4 * 20 + 4 * 5) * 4
    assert footprint.total_bytes == footprint.parameter_bytes + footprint.activation_bytes
