"""``tito benchmark run --event NAME``: a TinyMLPerf event of module 19 on your tinytorch."""

from __future__ import annotations

from coursetools.tito.errors import FAILED, OK, TitoError
from coursetools.tito.output import Output
from coursetools.tito.workspace import Workspace

EVENTS = ("mlp_sprint", "cnn_marathon", "transformer_decathlon")
"""The event names the command accepts; module 19's ``tinytorch.bench.EVENTS`` is checked too."""


def bench_module():
    """``tinytorch.bench`` (module 19); a usage error when this tinytorch does not have it yet."""
    try:
        from tinytorch import bench
    except ImportError:
        raise TitoError("module 19 (benchmarking, tinytorch.bench) is not released yet in this tinytorch; "
                        "the TinyMLPerf events arrive with it") from None
    if not hasattr(bench, "run_event"):
        raise TitoError("tinytorch.bench has no run_event(name) yet; finish module 19 first")
    return bench


def run(ws: Workspace, out: Output, args) -> int:
    bench = bench_module()
    known = tuple(getattr(bench, "EVENTS", EVENTS))
    if args.event not in known:
        raise TitoError(f"unknown event {args.event!r}; events are {', '.join(known)}")
    with out.quiet_stdout():
        result = bench.run_event(args.event)
    rows = [[key, value] for key, value in result.items() if not isinstance(value, (dict, list))]
    out.table(f"TinyMLPerf {args.event}", ["metric", "value"], rows)
    out.data({"event": args.event, "result": result})
    return FAILED if result.get("passed") is False else OK
