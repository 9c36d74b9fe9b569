"""coursetools.threads: the thread plan from cores and load, and the note on which BLAS kernels run."""

import subprocess
import sys
import time

import pytest

from coursetools.threads import busy_cores, choose_threads, cpu_times, kernel_note

OPENBLAS = {"user_api": "blas", "internal_api": "openblas", "architecture": "Haswell"}


@pytest.mark.parametrize("load, serial", [(0.0, 2), (1.6, 1), (9.0, 1)])
def test_blas_gets_only_the_free_cores_and_workers_all_of_them(load, serial):
    # Workers sleep while they wait; BLAS threads spin, so only they are cut to the free cores.
    choice = choose_threads(cores=2, load=load)
    assert (choice.workers, choice.blas_threads, choice.serial_threads) == (2, 1, serial)
    assert "only the free cores" in choice.describe() if serial == 1 else "idle machine" in choice.describe()


def test_a_run_without_workers_gives_its_free_cores_to_blas():
    choice = choose_threads(cores=2, load=0.0, max_workers=1)
    assert (choice.workers, choice.blas_threads, choice.serial_threads) == (1, 2, 2)
    busy = choose_threads(cores=2, load=1.0, max_workers=1)
    assert (busy.workers, busy.blas_threads, busy.serial_threads) == (1, 1, 1)


def test_given_numbers_win_and_bad_ones_are_named():
    given = choose_threads(3, 2, cores=2, load=9.0)
    assert given.total == given.serial_threads == 6
    with pytest.raises(ValueError, match="--threads must be a positive"):
        choose_threads(0)


def test_forced_kernels_are_named_with_the_way_back():
    note = kernel_note({"OPENBLAS_CORETYPE": "Haswell"}, [OPENBLAS])
    assert "Haswell, forced by OPENBLAS_CORETYPE=Haswell" in note and "unset it and OPENBLAS_L2_SIZE" in note


def test_openblas_own_choice_is_said_as_such():
    note = kernel_note({}, [{**OPENBLAS, "architecture": "SkylakeX"}])
    assert note == "BLAS kernels: SkylakeX (OpenBLAS's choice for this CPU)"
    assert "unknown" in kernel_note({}, [])


def test_cpu_times_reads_the_first_line_of_proc_stat():
    text = "cpu  100 5 20 800 50 3 2 0 0 0\ncpu0 50 2 10 400 25 1 1 0 0 0\n"
    assert cpu_times(text) == (980, 850)


def test_a_spinning_process_counts_as_a_busy_core():
    """Only this direction can be checked on a machine that runs other tests: they add, never remove, work."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # past its start-up
        busy = busy_cores(seconds=0.5)
    finally:
        spinner.kill()
        spinner.wait()
    assert busy is not None and busy >= 0.7, busy


def test_the_plan_measures_the_machine_when_no_load_is_given():
    choice = choose_threads(cores=2)
    assert choice.load is not None and choice.measure.startswith("busy cores")
    assert choice.measure in choice.describe() and choice.as_dict()["load_measure"] == choice.measure
