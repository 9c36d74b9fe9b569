"""benchmarks/paired.rounds: every variant timed once per round, each run after a pause that is
not part of its time (so one variant's spinning thread pool does not land in the next one's)."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from paired import rounds  # noqa: E402


def test_each_run_follows_a_pause_outside_its_time():
    ended, gaps = [], []

    def variant(seconds):
        def run():
            if ended:
                gaps.append(time.perf_counter() - ended[-1])
            time.sleep(seconds)
            ended.append(time.perf_counter())
        return run

    medians = rounds({"short": variant(0.01), "long": variant(0.03)}, repeats=3, settle=0.05)
    assert set(medians) == {"short", "long"}
    assert 9 <= medians["short"] < 45 and 29 <= medians["long"] < 65, medians
    timed_gaps = gaps[1:]  # the warm-ups run back to back; every timed run waits first
    assert len(timed_gaps) == 6 and min(timed_gaps) >= 0.05, gaps
