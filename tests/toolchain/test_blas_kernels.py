"""coursetools.blas_kernels: AVX-512 kernels asked of OpenBLAS only where it would leave them unused."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from coursetools.blas_kernels import SKYLAKEX_NEEDS, cpu_facts, prefer_avx512_kernels

AVX2 = "fpu sse sse2 avx avx2 fma"


def cpuinfo(tmp_path: Path, vendor: str, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nvendor_id\t: {vendor}\nmodel name\t: test cpu\nflags\t\t: {flags}\n\n"
                    f"processor\t: 1\nvendor_id\t: SomethingElse\nflags\t\t: fpu\n")
    return path


def avx512_flags() -> str:
    return AVX2 + " " + " ".join(sorted(SKYLAKEX_NEEDS))


def test_cpu_facts_reads_the_first_cpu(tmp_path):
    vendor, flags = cpu_facts(cpuinfo(tmp_path, "AuthenticAMD", avx512_flags()))
    assert vendor == "AuthenticAMD" and SKYLAKEX_NEEDS <= flags and "avx2" in flags
    assert cpu_facts(tmp_path / "missing") == ("", frozenset())


def run_fresh(tmp_path: Path, info: Path, environ: dict) -> list[str]:
    """prefer_avx512_kernels in a fresh interpreter (no NumPy loaded yet), then what NumPy's BLAS loaded."""
    code = ("import os, sys; from pathlib import Path; from coursetools.blas_kernels import prefer_avx512_kernels; "
            f"print(prefer_avx512_kernels(cpuinfo=Path({str(info)!r}))); print(os.environ.get('OPENBLAS_CORETYPE'))")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"} | environ
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_an_amd_cpu_with_avx512_gets_the_skylakex_kernels(tmp_path):
    said, coretype = run_fresh(tmp_path, cpuinfo(tmp_path, "AuthenticAMD", avx512_flags()), {})
    assert coretype == "SkylakeX" and "OPENBLAS_CORETYPE=SkylakeX" in said


@pytest.mark.parametrize("vendor, flags", [("GenuineIntel", None), ("AuthenticAMD", AVX2),
                                           ("AuthenticAMD", AVX2 + " avx512f avx512cd")])
def test_other_cpus_keep_openblas_own_choice(tmp_path, vendor, flags):
    said, coretype = run_fresh(tmp_path, cpuinfo(tmp_path, vendor, flags or avx512_flags()), {})
    assert coretype == "None" and "own choice" in said


def test_a_value_the_user_set_is_kept(tmp_path):
    said, coretype = run_fresh(tmp_path, cpuinfo(tmp_path, "AuthenticAMD", avx512_flags()),
                               {"OPENBLAS_CORETYPE": "Haswell"})
    assert coretype == "Haswell" and "as set before the run" in said


def test_too_late_once_numpy_is_loaded_says_how_to_start(tmp_path):
    import numpy  # noqa: F401  (this test process has NumPy loaded, as a script that imported it first would)

    environ: dict = {}
    said = prefer_avx512_kernels(environ, cpuinfo(tmp_path, "AuthenticAMD", avx512_flags()))
    assert environ == {} and "start with OPENBLAS_CORETYPE=SkylakeX" in said
