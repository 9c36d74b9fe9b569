"""``tito benchmark run --event NAME``: a TinyMLPerf event of module 19 on this repository's tinytorch.

It trains the event's baseline model (or calls ``--model FILE:FUNCTION`` for one of your own),
measures it with ``tinytorch.bench.run_event`` and prints quality, latency, throughput and
memory; ``--out`` writes the schema-checked submission JSON. BLAS threads are chosen from the
free cores and printed (``coursetools.threads``; ``--threads N`` overrides), and so are the BLAS
kernels. Exit code 1: the model did not
reach the event's quality floor, so the submission is not valid. Before any training it checks
that no module up to 19 still has stubs, and names the ones to implement if it does.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from coursetools.threads import choose_threads, kernel_note
from coursetools.tito.errors import FAILED, OK, TitoError
from coursetools.tito.module import stub_regions
from coursetools.tito.output import Output
from coursetools.tito.workspace import Workspace

EVENTS = ("mlp_sprint", "cnn_marathon", "transformer_decathlon")
"""The event names the command line accepts; module 19's ``tinytorch.bench.EVENTS`` is checked too."""


def bench_module():
    """``tinytorch.bench`` (module 19); a usage error when this tinytorch does not have it yet."""
    try:
        from tinytorch import bench
    except ImportError:
        raise TitoError("module 19 (benchmarking, tinytorch.bench) is not released yet in this tinytorch; "
                        "the TinyMLPerf events arrive with it") from None
    if not hasattr(bench, "run_event"):
        raise TitoError("tinytorch.bench has no run_event yet; finish module 19 first")
    return bench


BENCH_MODULE = "19"


def require_implemented(ws: Workspace) -> None:
    """A usage error naming every stub left in modules 01-19 (the event would die on the first one)."""
    todo = [(m, stub_regions(ws, m)) for m in ws.modules if m.number <= BENCH_MODULE and m.status == "released"]
    todo = [(m, names) for m, names in todo if names]
    if todo:
        listed = "; ".join(f"module {m.number} ({', '.join(m.files)}): {', '.join(names)}" for m, names in todo)
        first = todo[0][0].number
        raise TitoError(f"these stubs still raise NotImplementedError: {listed}. Implement them first "
                        f"(`tito module test {first}` checks them); the benchmark trains and measures with them")


def run(ws: Workspace, out: Output, args) -> int:
    bench = bench_module()
    require_implemented(ws)
    if args.event not in bench.EVENTS:
        raise TitoError(f"unknown event {args.event!r}; events are {', '.join(bench.EVENTS)}")
    threads = _thread_plan(args.threads)
    out.say(threads.describe())
    out.say(kernel_note())
    try:
        with threads.limit():
            model, name = _model(bench, out, args)
            with out.quiet_stdout():
                submission = bench.run_event(args.event, model, root=args.data, model_name=name)
    except FileNotFoundError as error:
        raise TitoError(f"{error}; `tito data` puts the datasets in place") from None
    if args.out:
        bench.write_submission(submission, args.out)
        out.say(f"submission written to {args.out}")
    _show(out, submission)
    out.data({"event": args.event, "submission": submission, "threads": threads.as_dict(), "blas_kernels": kernel_note()})
    return OK if submission["valid"] else FAILED


def _thread_plan(threads: int | None):
    """BLAS threads for the event (one worker: the events run no data-parallel threads)."""
    try:
        return choose_threads(threads, max_workers=1)
    except ValueError as error:
        raise TitoError(str(error)) from None


def _model(bench, out: Output, args):
    """The model to measure: yours (``--model FILE:FUNCTION``) or the event's trained baseline."""
    if args.model:
        return _load_model(args.model), args.model
    spec = bench.event(args.event)
    steps = args.steps or bench.BASELINE_STEPS[spec.name]
    train = bench.load_event_data(spec, "train", args.data)
    with out.progress(steps, f"training the {spec.name} baseline") as advance:
        model = bench.train_baseline(spec.name, bench.baseline_model(spec.name), train, steps,
                                     progress=lambda step, loss: advance(f"loss {loss:.3f}"))
    return model, f"baseline ({steps} steps)"


def _load_model(reference: str):
    path, _, function = reference.partition(":")
    if not function or not Path(path).is_file():
        raise TitoError(f"--model {reference!r}: give FILE.py:FUNCTION, a function that returns a trained model")
    spec = importlib.util.spec_from_file_location("tito_user_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, function):
        raise TitoError(f"{path} has no function {function!r}")
    return getattr(module, function)()


def _show(out: Output, submission: dict) -> None:
    quality, latency = submission["quality"], submission["latency_ms"]
    rows = [
        ["quality", f"{quality['metric']} {quality['value']:.4f} (floor {quality['floor']:g})"],
        ["valid", "yes" if submission["valid"] else "no: below the quality floor"],
        ["latency, batch 1", ", ".join(f"{k} {v:.3f} ms" for k, v in latency.items() if isinstance(v, (int, float)))],
        ["throughput", f"{submission['throughput']['samples_per_s']:.1f} samples/s "
                       f"(batch {submission['throughput']['batch_size']})"],
        ["model", f"{submission['model']['name']}: {submission['model']['parameters']} parameters, "
                  f"{submission['model']['bytes']} bytes"],
        ["peak inference memory", f"{submission['memory']['peak_inference_bytes']} bytes"],
    ]
    out.table(f"TinyMLPerf {submission['event']}", ["measure", "value"], rows,
              [None, "green" if submission["valid"] else "red", None, None, None, None])
