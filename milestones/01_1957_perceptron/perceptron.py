"""Milestone 01: Rosenblatt's perceptron, a single neuron that learns a linear boundary.

First the forward pass of an untrained perceptron (chance level), then training with
gradient descent on a linearly separable problem: 2-D points labelled by which side of a
line they fall on. Target: >= 95% accuracy on held-out points.

    python milestones/01_1957_perceptron/perceptron.py [--quick]
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import (data_hash, parse_args, plot_decision_boundaries, print_table, require, run_main,  # noqa: E402
                    save_result)

args = parse_args(__doc__.splitlines()[0])

import numpy as np  # noqa: E402

from tinytorch.core.activations import Sigmoid  # noqa: E402
from tinytorch.core.layers import Linear  # noqa: E402
from tinytorch.core.losses import BinaryCrossEntropyLoss  # noqa: E402
from tinytorch.core.optimizers import SGD  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402


def make_data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Points in [-1, 1]^2, label 1 above the line 0.8x - 0.5y + 0.1 = 0, with a margin of 0.05."""
    points = rng.uniform(-1, 1, size=(4 * n, 2)).astype(np.float32)
    score = 0.8 * points[:, 0] - 0.5 * points[:, 1] + 0.1
    keep = np.abs(score) > 0.05
    points, score = points[keep][:n], score[keep][:n]
    return points, (score > 0).astype(np.float32)


def probability(model, x: np.ndarray) -> np.ndarray:
    """P(label 1) for each row of x (N, 2): the neuron's output through a sigmoid, shape (N,)."""
    return Sigmoid()(model(Tensor(x))).data[:, 0]


def accuracy(model, x, y) -> float:
    return float(((probability(model, x) > 0.5) == (y > 0.5)).mean())


def main() -> None:
    rng = np.random.default_rng(args.seed)
    x_train, y_train = make_data(rng, 200 if args.quick else 1000)
    x_test, y_test = make_data(rng, 500)
    neuron = Linear(2, 1, rng=rng)
    before = accuracy(neuron, x_test, y_test)
    print(f"untrained perceptron: {before:.1%} on the test points (chance is about 50%)")
    optimizer = SGD(neuron.parameters(), lr=0.5)
    loss_fn = BinaryCrossEntropyLoss()
    epochs = 30 if args.quick else 100
    started, losses = time.perf_counter(), []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = loss_fn(Sigmoid()(neuron(Tensor(x_train))), Tensor(y_train[:, None]))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    after = accuracy(neuron, x_test, y_test)
    result = {"test_accuracy": after, "untrained_accuracy": before, "epochs": epochs,
              "wall_time_s": round(time.perf_counter() - started, 2), "data_sha256": data_hash(x_train, y_train, x_test, y_test)}
    save_result("01_perceptron", args, result, {"train loss": losses})
    plot_decision_boundaries("01_perceptron", args, [(f"trained perceptron: {after:.1%} on test points",
                                                       lambda grid: probability(neuron, grid))], x_test, y_test)
    print_table("Perceptron (1957)", [("untrained accuracy", f"{before:.1%}"), ("trained accuracy", f"{after:.1%}"),
                                      ("epochs", str(epochs))])
    require(after >= (0.90 if args.quick else 0.95), f"test accuracy {after:.1%} is below the target")


if __name__ == "__main__":
    run_main(main)
