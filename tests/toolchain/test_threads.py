"""coursetools.threads: the thread plan from cores and load, and the note on which BLAS kernels run."""

import pytest

from coursetools.threads import choose_threads, kernel_note

OPENBLAS = {"user_api": "blas", "internal_api": "openblas", "architecture": "Haswell"}


@pytest.mark.parametrize("load, workers, blas", [(0.0, 2, 1), (1.6, 1, 1), (9.0, 1, 1)])
def test_the_plan_uses_only_the_free_cores(load, workers, blas):
    choice = choose_threads(cores=2, load=load)
    assert (choice.workers, choice.blas_threads) == (workers, blas) and choice.total <= 2


def test_a_run_without_workers_gives_its_cores_to_blas():
    choice = choose_threads(cores=2, load=0.0, max_workers=1)
    assert (choice.workers, choice.blas_threads) == (1, 2)


def test_given_numbers_win_and_bad_ones_are_named():
    assert choose_threads(3, 2, cores=2, load=9.0).total == 6
    with pytest.raises(ValueError, match="--threads must be a positive"):
        choose_threads(0)


def test_forced_kernels_are_named_with_the_way_back():
    note = kernel_note({"OPENBLAS_CORETYPE": "Haswell"}, [OPENBLAS])
    assert "Haswell, forced by OPENBLAS_CORETYPE=Haswell" in note and "unset it and OPENBLAS_L2_SIZE" in note


def test_openblas_own_choice_is_said_as_such():
    note = kernel_note({}, [{**OPENBLAS, "architecture": "SkylakeX"}])
    assert note == "BLAS kernels: SkylakeX (OpenBLAS's choice for this CPU)"
    assert "unknown" in kernel_note({}, [])
