"""Benchmark: one training step of the milestone CNN: module 09's path, module 18's accelerated path, PyTorch-CPU.

The CNN of milestone 04 (conv3x3 3->32->32, pool, 32->64->64, pool, 64->128, pool, linear 2048->10,
BatchNorm + ReLU after each conv), batch 128, float32, one forward + backward + SGD step, for:

- tinytorch, module 09's layers (readable im2col + one GEMM per convolution);
- tinytorch, ``accelerate(model)`` (module 18: channels-last, transposed-convolution input
  gradients, fused BatchNorm+ReLU, batch chunks, data-parallel worker threads);
- PyTorch CPU, NCHW and channels_last, when installed (optional, never a dependency).

All variants run in one process, one step each per round in rotating order, and report medians,
so machine load hits them alike; the ratios are the figures to compare across machines. Threads
are chosen on purpose (coursetools.threads) and printed; so are the BLAS kernels (and whether
OPENBLAS_CORETYPE forced them) and the allocator setting
(coursetools.allocator: freed memory is kept, so a step does not page-fault its large arrays back
in every time; ``--return-memory`` keeps glibc's default). Results go to benchmarks/results/.

    python benchmarks/cnn_step.py [--repeats 7] [--batch 128] [--chunk 4] [--threads N] [--workers N] [--return-memory]
    python benchmarks/cnn_step.py --profile     # where the accelerated step's time goes
    python benchmarks/cnn_step.py --gemm-floor  # the step's GEMMs alone, at this machine's BLAS speed
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from coursetools.allocator import add_memory_option, choose_allocator
from paired import RESULTS, format_load, profile_step, rounds, with_blas_threads, write_result
from coursetools.threads import add_thread_options, choose_threads, kernel_note, load_average, usable_cores
from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import SGD
from tinytorch.core.spatial import BatchNorm2d, Conv2d, Flatten, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.perf.acceleration import accelerate

CHANNELS = [(3, 32), (32, 32), "pool", (32, 64), (64, 64), "pool", (64, 128), "pool"]


def tinytorch_cnn(rng: np.random.Generator) -> Sequential:
    layers = []
    for spec in CHANNELS:
        if spec == "pool":
            layers.append(MaxPool2d(2))
        else:
            layers += [Conv2d(*spec, 3, padding=1, bias=False, rng=rng), BatchNorm2d(spec[1]), ReLU()]
    return Sequential(*layers, Flatten(), Linear(2048, 10, rng=rng))


def tinytorch_step(model, batch: int, rng: np.random.Generator):
    optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = Tensor(rng.standard_normal((batch, 3, 32, 32), dtype=np.float32))
    y = Tensor(rng.integers(0, 10, batch))
    loss_fn = CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

    return step


def accelerated_step(rng: np.random.Generator, chunk: int, workers: int, batch: int = 128):
    """One training step of the CNN after ``accelerate(model, chunk, workers)`` (module 18)."""
    return tinytorch_step(accelerate(tinytorch_cnn(rng), chunk=chunk, workers=workers), batch, rng)


def torch_step(batch: int, rng: np.random.Generator, channels_last: bool):
    import torch

    layers = []
    for spec in CHANNELS:
        if spec == "pool":
            layers.append(torch.nn.MaxPool2d(2))
        else:
            layers += [torch.nn.Conv2d(*spec, 3, padding=1, bias=False), torch.nn.BatchNorm2d(spec[1]), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Flatten(), torch.nn.Linear(2048, 10))
    x = torch.from_numpy(rng.standard_normal((batch, 3, 32, 32), dtype=np.float32))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    y = torch.from_numpy(rng.integers(0, 10, batch))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

    return step


def build_variants(args, choice, rng):
    variants = {
        "tinytorch, module 09 path": with_blas_threads(choice, choice.serial_threads, tinytorch_step(tinytorch_cnn(rng), args.batch, rng)),
        f"tinytorch, accelerated (chunk {args.chunk}, {choice.workers} worker(s))": with_blas_threads(
            choice, choice.blas_threads,
            accelerated_step(rng, args.chunk, choice.workers, args.batch)),
    }
    torch_version = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            torch.set_num_threads(choice.serial_threads)
            torch_version = torch.__version__
            variants[f"PyTorch {torch_version} NCHW ({choice.serial_threads} threads)"] = torch_step(args.batch, rng, False)
            variants[f"PyTorch {torch_version} channels_last"] = torch_step(args.batch, rng, True)
    return variants, torch_version


def report(medians: dict[str, float], torch_version) -> list[str]:
    names = list(medians)
    module09, accelerated = medians[names[0]], medians[names[1]]
    torch_ms = medians[names[2]] if torch_version else None
    lines = [f"  {'variant':<52}{'ms/step':>10}{'x PyTorch NCHW':>16}{'x module 09':>13}"]
    for name, ms in medians.items():
        vs_torch = f"{ms / torch_ms:15.2f}x" if torch_ms else f"{'-':>16}"
        lines.append(f"  {name:<52}{ms:10.1f}{vs_torch}{ms / module09:12.2f}x")
    lines.append(f"  accelerated path: {module09 / accelerated:.2f}x faster than module 09's")
    if not torch_version:
        lines.append("  PyTorch not installed (pip install torch==2.13.0): no ratio to PyTorch")
    return lines


def profile_accelerated(args, choice) -> None:
    """Where the accelerated step's time goes (paired.profile_step: CPU / wall, then cProfile by own time)."""
    rng = np.random.default_rng(0)
    profile_step(accelerated_step(rng, args.chunk, choice.workers, args.batch), choice, args.repeats)


def conv_gemms(batch: int, chunk: int) -> list[tuple[str, tuple[int, int, int], int, bool]]:
    """Every GEMM of one accelerated step's convolutions: (what, (M, K, N), how many per step,
    whether its left side is a transposed view).

    Per chunk of images: forward cols (rows, 9·C) @ (9·C, F); weight gradient (F, rows) @ (rows, 9·C),
    its left side the transposed (rows, F) output gradient; input gradient (rows, 9·F) @ (9·F, C),
    except for the network's images.
    """
    gemms, size = [], 32
    for spec in CHANNELS:
        if spec == "pool":
            size //= 2
            continue
        c, f = spec
        rows, calls = chunk * size * size, -(-batch // chunk)
        gemms += [(f"{c}->{f} at {size}x{size} forward", (rows, 9 * c, f), calls, False),
                  (f"{c}->{f} at {size}x{size} weight gradient", (f, rows, 9 * c), calls, True)]
        if c != 3:
            gemms.append((f"{c}->{f} at {size}x{size} input gradient", (rows, 9 * f, c), calls, False))
    return gemms


def gemm_floor(args, choice) -> None:
    """How fast the accelerated step could be if everything but its GEMMs took no time.

    Times each of the step's GEMM shapes alone (np.matmul with out=, BLAS at one thread, median of
    repeated calls), adds them up, and divides by the workers (perfect data parallelism): a lower
    bound for the accelerated path with these kernels, to set against PyTorch's whole step.
    """
    import time

    rng = np.random.default_rng(0)
    total_flop, total_ms = 0, 0.0
    print(f"  {'GEMM (per chunk of ' + str(args.chunk) + ' images)':<40}{'M x K x N':>20}{'calls':>7}{'GFLOP/s':>9}{'ms/step':>9}")
    with choice.limit(1):
        for name, (m, k, n), calls, transposed in conv_gemms(args.batch, args.chunk):
            a = rng.standard_normal((k, m) if transposed else (m, k), dtype=np.float32)
            a = a.T if transposed else a
            b = rng.standard_normal((k, n), dtype=np.float32)
            out = a @ b
            times = []
            for _ in range(max(5, args.repeats)):
                started = time.perf_counter()
                for _ in range(calls):
                    np.matmul(a, b, out=out)
                times.append((time.perf_counter() - started) / calls)
            seconds = float(np.median(times))
            total_flop, total_ms = total_flop + 2 * m * k * n * calls, total_ms + 1000 * seconds * calls
            print(f"  {name:<40}{f'{m} x {k} x {n}':>20}{calls:>7}{2 * m * k * n / seconds / 1e9:9.1f}{1000 * seconds * calls:9.1f}")
    print(f"  all convolution GEMMs: {total_flop / 1e9:.1f} GFLOP in {total_ms:.0f} ms at one thread "
          f"({total_flop / total_ms / 1e6:.0f} GFLOP/s); over {choice.workers} worker(s), if perfectly parallel: "
          f"{total_ms / choice.workers:.0f} ms per step (load average {format_load(load_average())})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--chunk", type=int, default=4, help="images per chunk in the accelerated convolutions")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even when installed")
    parser.add_argument("--out", type=Path, default=RESULTS / "cnn_step.json", help="where the JSON result goes")
    parser.add_argument("--profile", action="store_true", help="only profile two accelerated steps (cProfile)")
    parser.add_argument("--gemm-floor", action="store_true",
                        help="only time the step's convolution GEMMs alone (the accelerated path's lower bound)")
    add_memory_option(parser)
    add_thread_options(parser)
    args = parser.parse_args()
    allocator = choose_allocator(args.return_memory)
    choice = choose_threads(args.threads, args.workers)
    print(choice.describe())
    print(kernel_note())
    print(allocator)
    if args.profile:
        profile_accelerated(args, choice)
        return
    if args.gemm_floor:
        gemm_floor(args, choice)
        return
    load_before = load_average()
    variants, torch_version = build_variants(args, choice, np.random.default_rng(0))
    medians = rounds(variants, args.repeats)
    print(f"CNN training step, batch {args.batch}, float32 ({args.repeats} rounds, medians; "
          f"load average {format_load(load_before)} before, {format_load(load_average())} after on {usable_cores()} cores)")
    lines = report(medians, torch_version)
    print("\n".join(lines))
    write_result(args.out, "cnn_step", choice, load_before, batch=args.batch, repeats=args.repeats,
                 chunk=args.chunk, allocator=allocator, blas_kernels=kernel_note(), median_ms=medians, report=lines, torch=torch_version)


if __name__ == "__main__":
    main()
