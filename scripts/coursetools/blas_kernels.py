"""Letting NumPy's OpenBLAS use the CPU's AVX-512 kernels where it would not pick them itself.

NumPy's wheels carry one OpenBLAS built for many CPUs; when it loads, it reads the CPU's id and
picks a kernel family. On AMD CPUs with AVX-512 (Zen 4 and later) the OpenBLAS of NumPy 2.4
(0.3.31) picks its Haswell (AVX2) kernels, which use half the vector width: measured on this
project's 2-core AMD EPYC machines, one thread, float32 matmul (``python benchmarks/blas_kernels.py``
runs both in fresh processes and prints these):

    shape (m, k, n)        Haswell kernels   SkylakeX kernels
    1024 x 1024 x 1024     115 GFLOP/s       207 GFLOP/s
    32768 x 576 x 64        81 GFLOP/s       158 GFLOP/s

PyTorch's own kernels (oneDNN) use AVX-512 there, so a benchmark that leaves NumPy on the AVX2
kernels compares half a CPU with a whole one. OpenBLAS reads ``OPENBLAS_CORETYPE`` once, when the
library loads, so :func:`prefer_avx512_kernels` must run before NumPy is imported; the benchmark
and milestone scripts call it first. A value the user set is kept (``OPENBLAS_CORETYPE=Haswell``
keeps OpenBLAS's own choice); Intel CPUs are left alone (OpenBLAS recognises them), and so is
every CPU without the AVX-512 subsets the SkylakeX kernels use. The results are the same sums in
another order: float32 rounding differs, nothing else. tinytorch itself never sets it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SKYLAKEX_NEEDS = frozenset({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})
"""The AVX-512 subsets OpenBLAS's SkylakeX kernels are built for."""


def cpu_facts(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, frozenset[str]]:
    """The first CPU's vendor id and feature flags (Linux); ``("", {})`` where unknown."""
    vendor, flags = "", frozenset()
    try:
        text = cpuinfo.read_text()
    except OSError:
        return vendor, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "vendor_id" and not vendor:
            vendor = value.strip()
        elif key == "flags" and not flags:
            flags = frozenset(value.split())
    return vendor, flags


def prefer_avx512_kernels(environ=os.environ, cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """Ask OpenBLAS for its SkylakeX (AVX-512) kernels on an AMD CPU that has AVX-512; say what was done."""
    if "OPENBLAS_CORETYPE" in environ:
        return f"BLAS kernels: OPENBLAS_CORETYPE={environ['OPENBLAS_CORETYPE']}, as set before the run"
    vendor, flags = cpu_facts(cpuinfo)
    if vendor != "AuthenticAMD" or not SKYLAKEX_NEEDS <= flags:
        return "BLAS kernels: OpenBLAS's own choice for this CPU"
    if "numpy" in sys.modules:
        return ("BLAS kernels: OpenBLAS's own choice (NumPy was loaded first); this AMD CPU has AVX-512: "
                "start with OPENBLAS_CORETYPE=SkylakeX for about twice the matmul speed")
    environ["OPENBLAS_CORETYPE"] = "SkylakeX"
    return ("BLAS kernels: OPENBLAS_CORETYPE=SkylakeX (this AMD CPU has AVX-512, which OpenBLAS would leave "
            "unused); OPENBLAS_CORETYPE=Haswell keeps OpenBLAS's own choice")
