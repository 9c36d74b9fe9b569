"""Module 18: measuring a speedup and checking the two versions agree."""

import time

import numpy as np

from tinytorch.perf.acceleration import Speedup, compare, speedup_table


def test_compare_reports_the_slower_baseline_and_the_difference():
    def slow(x):
        time.sleep(0.004)
        return x + 1e-3

    def fast(x):
        return x

    row = compare("sleep", slow, fast, np.zeros(3), repeats=3)
    assert row.name == "sleep"
    assert row.baseline_ms >= 4.0 and row.optimized_ms < row.baseline_ms
    assert row.speedup > 1
    np.testing.assert_allclose(row.max_abs_error, 1e-3, rtol=1e-6)


def test_identical_functions_have_zero_difference():
    row = compare("same", np.sort, np.sort, np.arange(10.0)[::-1], repeats=2)
    assert row.max_abs_error == 0.0


def test_speedup_table_lists_every_row():
    rows = [Speedup("a", 10.0, 2.0, 0.0), Speedup("b", 3.0, 1.5, 1e-7), compare("c", np.sort, np.sort, np.ones(3))]
    table = speedup_table(rows)
    assert "5.0x" in table and "2.0x" in table and table.count("\n") == 3
