"""Benchmark: the accelerated CNN or GPT training step of two versions of tinytorch, paired in one run.

A change to the framework is worth what it saves against the version before it on the same
machine in the same minutes. This script exports ``reference/`` of a base commit (``git archive``),
starts one worker process per version (each imports its own ``tinytorch`` through PYTHONPATH; the
step itself is built by ``cnn_step.py`` / ``gpt_tokens.py`` of this checkout, so both sides run the
same benchmark), and times one step on each side per round with ``paired.rounds`` (a warm-up
each, the order rotated every round, a settle pause before each step, medians), only one side
running at a time; each time includes the worker's one-line reply (microseconds). The head / base
ratio is printed; below 1 means the head version is faster.

    python benchmarks/ab_commits.py --base c2b1bf0 --step gpt   # that commit against the working tree
    python benchmarks/ab_commits.py --base HEAD~1 --head HEAD --step cnn --rounds 21
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from coursetools.allocator import choose_allocator
from coursetools.threads import add_thread_options, choose_threads
from paired import rounds

REPO = Path(__file__).resolve().parents[1]


def export_reference(rev: str, into: Path) -> Path:
    """``reference/`` of commit ``rev`` unpacked under ``into``; returns the folder to put on PYTHONPATH."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "reference"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "reference"


def build_step(kind: str, workers: int, chunk: int):
    """The accelerated training step, from this checkout's benchmark scripts."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    rng = np.random.default_rng(0)
    if kind == "cnn":
        import cnn_step
        return cnn_step.accelerated_step(rng, chunk, workers)
    import gpt_tokens
    return gpt_tokens.tinytorch_step(rng, workers)


def serve(kind: str, workers: int, blas_threads: int, chunk: int) -> None:
    """Worker side: build the step, then for every line on stdin run it once and answer."""
    from threadpoolctl import threadpool_limits

    import tinytorch

    choose_allocator(False)  # as cnn_step.py and gpt_tokens.py run by default
    step = build_step(kind, workers, chunk)
    print(f"ready {tinytorch.__file__}", flush=True)
    with threadpool_limits(blas_threads):
        for _ in sys.stdin:
            step()
            print("done", flush=True)


def start_worker(pythonpath: Path, args, choice) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(pythonpath), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, __file__, "--serve", "--step", args.step, "--chunk", str(args.chunk),
               "--workers", str(choice.workers), "--threads", str(choice.blas_threads)]
    worker = subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ready = worker.stdout.readline().split()
    if not ready or ready[0] != "ready":
        raise SystemExit(f"the worker for {pythonpath} did not start (see its error above)")
    print(f"  tinytorch from {ready[1]}")
    return worker


def remote_step(worker: subprocess.Popen):
    """A step run in ``worker`` (returns when the worker has finished it)."""
    def run() -> None:
        worker.stdin.write("step\n")
        worker.stdin.flush()
        worker.stdout.readline()
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="commit to compare against (any git revision; required)")
    parser.add_argument("--head", help="second commit (default: this working tree)")
    parser.add_argument("--step", choices=["cnn", "gpt"], default="gpt")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--chunk", type=int, default=4, help="images per chunk in the CNN's convolutions")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    add_thread_options(parser)
    args = parser.parse_args()
    if args.serve:
        serve(args.step, args.workers, args.threads, args.chunk)
        return
    if not args.base:
        parser.error("--base REV is required: the commit to compare against, e.g. --base HEAD~1")
    choice = choose_threads(args.threads, args.workers)
    print(choice.describe())
    with tempfile.TemporaryDirectory(prefix="tinytorch-ab-") as scratch:
        trees = {"base": export_reference(args.base, Path(scratch, "base"))}
        trees["head"] = export_reference(args.head, Path(scratch, "head")) if args.head else REPO / "reference"
        workers = {side: start_worker(tree, args, choice) for side, tree in trees.items()}
        medians = rounds({side: remote_step(worker) for side, worker in workers.items()}, args.rounds)
        for worker in workers.values():
            worker.stdin.close()
            worker.wait()
    base, head = medians["base"], medians["head"]
    print(f"{args.step} accelerated step, {args.rounds} paired rounds, medians: base {args.base} {base:.1f} ms, "
          f"head {args.head or 'working tree'} {head:.1f} ms, head / base {head / base:.3f}")


if __name__ == "__main__":
    main()
