"""Benchmark: one training step of the milestone CNN in tinytorch, and in PyTorch-CPU when installed.

The CNN of milestone 04 (conv3x3 3->32->32, pool, 32->64->64, pool, 64->128, pool, linear 2048->10,
BatchNorm + ReLU after each conv), batch 128, float32, one forward + backward + SGD step.
Runs alternate between the two frameworks in one process and report medians, so machine load
affects both alike; the ratio is what to compare across machines. Also times Conv2d forward and
backward alone. PyTorch is optional (``pip install torch``), never a dependency.

    python benchmarks/cnn_step.py [--repeats 7] [--batch 128]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import SGD
from tinytorch.core.spatial import BatchNorm2d, Conv2d, Flatten, MaxPool2d
from tinytorch.core.tensor import Tensor

CHANNELS = [(3, 32), (32, 32), "pool", (32, 64), (64, 64), "pool", (64, 128), "pool"]


def tinytorch_step(batch: int, rng: np.random.Generator):
    layers = []
    for spec in CHANNELS:
        if spec == "pool":
            layers.append(MaxPool2d(2))
        else:
            layers += [Conv2d(*spec, 3, padding=1, bias=False, rng=rng), BatchNorm2d(spec[1]), ReLU()]
    model = Sequential(*layers, Flatten(), Linear(2048, 10, rng=rng))
    optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = Tensor(rng.standard_normal((batch, 3, 32, 32), dtype=np.float32))
    y = Tensor(rng.integers(0, 10, batch))
    loss_fn = CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

    return step


def torch_step(batch: int, rng: np.random.Generator):
    import torch

    layers = []
    for spec in CHANNELS:
        if spec == "pool":
            layers.append(torch.nn.MaxPool2d(2))
        else:
            layers += [torch.nn.Conv2d(*spec, 3, padding=1, bias=False), torch.nn.BatchNorm2d(spec[1]), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Flatten(), torch.nn.Linear(2048, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.from_numpy(rng.standard_normal((batch, 3, 32, 32), dtype=np.float32))
    y = torch.from_numpy(rng.integers(0, 10, batch))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

    return step


def conv_steps(batch: int, rng: np.random.Generator):
    """(tinytorch forward, tinytorch forward+backward) for Conv2d 32->32 at 32x32."""
    conv = Conv2d(32, 32, 3, padding=1, rng=rng)
    data = rng.standard_normal((batch, 32, 32, 32), dtype=np.float32)

    def forward():
        conv(Tensor(data))

    def forward_backward():
        conv(Tensor(data, requires_grad=True)).sum().backward()

    return forward, forward_backward


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up: allocations, BLAS threads
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def paired(ours, theirs, repeats: int) -> tuple[float, float]:
    """Alternate the two, one run each per round; medians of each."""
    ours(), theirs()
    a, b = [], []
    for _ in range(repeats):
        for fn, out in ((ours, a), (theirs, b)):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return 1000 * float(np.median(a)), 1000 * float(np.median(b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ours = tinytorch_step(args.batch, rng)
    try:
        import torch

        theirs = torch_step(args.batch, rng)
        version = torch.__version__
    except ImportError:
        theirs, version = None, None
    print(f"CNN training step, batch {args.batch}, float32 ({args.repeats} paired runs, medians)")
    if theirs is None:
        print(f"  tinytorch   {median_ms(ours, args.repeats):8.1f} ms")
        print("  PyTorch     not installed (pip install torch) - no ratio")
    else:
        t_ms, p_ms = paired(ours, theirs, args.repeats)
        print(f"  tinytorch   {t_ms:8.1f} ms")
        print(f"  PyTorch {version} CPU {p_ms:8.1f} ms ({torch.get_num_threads()} threads)")
        print(f"  ratio       {t_ms / p_ms:8.2f}x  (tinytorch / PyTorch)")
    forward, forward_backward = conv_steps(args.batch, rng)
    print(f"Conv2d 32->32, 3x3, 32x32, batch {args.batch}:")
    print(f"  forward            {median_ms(forward, args.repeats):8.1f} ms")
    print(f"  forward + backward {median_ms(forward_backward, args.repeats):8.1f} ms")


if __name__ == "__main__":
    main()
