"""Helpers for test authors that mean the same in the course repo and in the grader.

In the course repo a test runs in the same process as the code it tests; in the grader the code
runs in the student's sandboxed process (``tinytorch_grader.remote``). These helpers ask the
process where the code runs, so a test reads the same either way:

- ``object_id(obj, "data")``: ``id()`` of ``obj.data`` where ``obj`` lives (is it updated in place?);
- ``peak_bytes(fn, *args)``: ``fn(*args)`` under tracemalloc there: ``(result, peak bytes)``.

Both numbers come from the process that runs the code, so they check honest implementations
(in place or not, allocation-free or not); a hostile submission could misreport them and so gains
at most the points of those checks, never the points of a value check.
"""

from __future__ import annotations

import tracemalloc


def _remote(obj):
    from tinytorch_grader.remote.proxy import RemoteObject, RemoteModule, RemoteClass

    return obj if isinstance(obj, (RemoteObject, RemoteModule, RemoteClass)) else None


def object_id(obj, attribute: str | None = None) -> int:
    remote = _remote(obj)
    if remote is not None:
        conn = remote._tt_cconn if isinstance(type(remote), type) and hasattr(remote, "_tt_cconn") else remote._tt_conn
        return conn.request("id", remote, attribute)
    return id(getattr(obj, attribute) if attribute else obj)


def peak_bytes(function, *args, **kwargs):
    remote = _remote(function) or next((a for a in args if _remote(a) is not None), None)
    if remote is not None:
        conn = getattr(remote, "_tt_conn", None) or type(remote)._tt_cconn
        result, peak = conn.request("peak_bytes", function, args, kwargs)
        return result, peak
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    result = function(*args, **kwargs)
    peak = max(tracemalloc.get_traced_memory()[1] - base, 0)
    if not was_tracing:
        tracemalloc.stop()
    return result, peak
