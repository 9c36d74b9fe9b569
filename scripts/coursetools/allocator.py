"""Keeping freed memory in the process, so a training step does not page-fault its arrays back in.

glibc's malloc serves every block above its mmap threshold (at most 32 MB) with a fresh ``mmap``
and gives it back to the kernel on ``free``. A training step that allocates the same large arrays
every time (module 09's whole-batch im2col matrices: 151 MB for the milestone CNN's second
convolution) then page-faults all of them in again on every step, and the kernel zeroes each page
(NumPy asks for 2 MB huge pages, which the kernel may first have to compact). Measured here on the
CNN step of module 09's path, one thread: 16,600 page faults and 407 ms of system time per step
against 406 ms of user time; with freed memory kept, 32 faults and 0 ms.

``keep_freed_memory()`` sets two glibc options for this process (the same as starting it with
``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=<huge>``): large blocks come from the heap, and the
heap is never trimmed, so a freed block is reused by the next allocation of that size. The
process's peak memory then stays allocated. Every variant of a benchmark runs in the same process,
PyTorch included, so the comparison stays fair. Not glibc (macOS, musl): nothing is changed, and
the description says so.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1  # glibc <malloc.h> option numbers
M_MMAP_MAX = -4
NEVER_TRIM = 2**31 - 1  # mallopt takes an int: about 2 GB of free heap kept before trimming


def add_memory_option(parser) -> None:
    """``--return-memory`` on a command line: opt out of :func:`keep_freed_memory`."""
    parser.add_argument("--return-memory", action="store_true",
                        help="keep glibc's default of giving large freed blocks back to the kernel (page faults every step)")


def choose_allocator(return_memory: bool) -> str:
    """:func:`keep_freed_memory` unless ``return_memory``; what was done, to print."""
    if return_memory:
        return "allocator: glibc default (large freed blocks returned to the kernel)"
    return keep_freed_memory()


def keep_freed_memory() -> str:
    """Ask glibc to serve large blocks from the heap and keep freed ones; return what was done."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return "allocator: not glibc, left as it is"
    if mallopt(M_MMAP_MAX, 0) != 1 or mallopt(M_TRIM_THRESHOLD, NEVER_TRIM) != 1:
        return "allocator: glibc refused mallopt, left as it is"
    return ("allocator: glibc keeps freed memory (no mmap per large array, heap never trimmed), "
            "so repeated steps reuse their pages; --return-memory keeps the default")
