"""Helpers for test authors that mean the same in the course repo and in the grader.

In the course repo a test runs in the same process as the code it tests; in the grader the code
runs in the student's sandboxed process (``tinytorch_grader.remote``). These helpers ask the
process where the code runs, so a test reads the same either way:

- ``object_id(obj, "data")``: ``id()`` of ``obj.data`` where ``obj`` lives (is it updated in place?);
- ``peak_bytes(fn, *args)``: ``fn(*args)`` under tracemalloc there: ``(result, peak bytes)``;
- ``fastest_passes(run, tensor_class, data, upstream)``: the fastest forward and backward seconds of
  ``run`` (student's or reference's), timed apart, for the speed tests' same-run ratios.

The first two numbers come from the process that runs the code, so they check honest implementations
(in place or not, allocation-free or not); a hostile submission could misreport them and so gains
at most the points of those checks, never the points of a value check.
"""

from __future__ import annotations

import time
import types


def _remote(obj):
    from tinytorch_grader.remote.proxy import RemoteObject, RemoteModule, RemoteClass

    return obj if isinstance(obj, (RemoteObject, RemoteModule, RemoteClass)) else None


def _connection(remote):
    """The connection of a proxy object, module or class."""
    from tinytorch_grader.remote.proxy import RemoteClass

    return remote._tt_cconn if isinstance(remote, RemoteClass) else remote._tt_conn


def object_id(obj, attribute: str | None = None) -> int:
    remote = _remote(obj)
    if remote is not None:
        return _connection(remote).request("id", remote, attribute)
    return id(getattr(obj, attribute) if attribute else obj)


def peak_bytes(function, *args, **kwargs):
    if isinstance(function, types.MethodType) and _remote(function.__self__) is not None:
        owner = function.__self__  # a method of a student object: measure the student's own bound method
        function = owner._tt_conn.request("getattr", owner, function.__name__)
    remote = next((value for value in (function, *args, *kwargs.values()) if _remote(value) is not None), None)
    if remote is not None:
        result, peak = _connection(remote).request("peak_bytes", function, args, kwargs)
        return result, peak
    from tinytorch_grader.remote.server import peak_bytes as measured  # the same measurement either way

    result, peak = measured(function, args, kwargs)
    return result, peak


def fastest_passes(run, tensor_class, data, upstream, repeats: int = 7, **kwargs) -> tuple[float, float]:
    """(forward seconds, backward seconds) of ``run(x, **kwargs)`` and its backward, each the fastest of
    ``repeats``; ``x`` is built from ``data`` with ``tensor_class`` (the Tensor of the code under test).

    Timed apart, so a slow forward cannot hide behind a backward that takes twice as long; the
    minimum, not the median, because on a loaded machine most runs of a millisecond call are
    interrupted and the fastest run is the one that measures the code rather than the load.
    """
    forward, backward = [], []
    for _ in range(repeats):
        x = tensor_class(data, requires_grad=True)
        start = time.perf_counter()
        out = run(x, **kwargs)
        middle = time.perf_counter()
        out.backward(upstream)
        forward.append(middle - start)
        backward.append(time.perf_counter() - middle)
    return min(forward), min(backward)
