"""Milestone 02: the XOR crisis (Minsky & Papert, 1969) and its way out.

A single layer cannot separate XOR's four points: its best is 75%, whatever the training.
Add one hidden layer with a non-linearity and the same training reaches 100%.

    python milestones/02_1969_xor/xor.py [--quick]
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import parse_args, plot_decision_boundaries, print_table, require, run_main, save_result  # noqa: E402

args = parse_args(__doc__.splitlines()[0])

import numpy as np  # noqa: E402

from tinytorch.core.activations import Sigmoid, Tanh  # noqa: E402
from tinytorch.core.layers import Linear, Sequential  # noqa: E402
from tinytorch.core.losses import BinaryCrossEntropyLoss  # noqa: E402
from tinytorch.core.optimizers import Adam  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y = np.array([[0], [1], [1], [0]], dtype=np.float32)


def probability(model, x: np.ndarray) -> np.ndarray:
    """P(XOR = 1) for each row of x (N, 2), shape (N,)."""
    return Sigmoid()(model(Tensor(x))).data[:, 0]


def train(model, steps: int) -> tuple[float, list[float]]:
    optimizer = Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = BinaryCrossEntropyLoss()(Sigmoid()(model(Tensor(X))), Tensor(Y))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    predictions = Sigmoid()(model(Tensor(X))).data > 0.5
    return float((predictions == (Y > 0.5)).mean()), losses


def main() -> None:
    rng = np.random.default_rng(args.seed)
    steps = 300 if args.quick else 1000
    started = time.perf_counter()
    single = Linear(2, 1, rng=rng)
    single_accuracy, single_losses = train(single, steps)
    print(f"single layer: {single_accuracy:.0%} (a line cannot separate XOR; 75% is its ceiling)")
    hidden = Sequential(Linear(2, 8, rng=rng), Tanh(), Linear(8, 1, rng=rng))
    hidden_accuracy, hidden_losses = train(hidden, steps)
    print(f"one hidden layer: {hidden_accuracy:.0%}")
    result = {"single_layer_accuracy": single_accuracy, "hidden_layer_accuracy": hidden_accuracy, "steps": steps,
              "wall_time_s": round(time.perf_counter() - started, 2)}
    save_result("02_xor", args, result, {"single layer loss": single_losses, "hidden layer loss": hidden_losses},
                x_label="step")
    plot_decision_boundaries("02_xor", args, [
        (f"single layer: {single_accuracy:.0%} (one straight boundary)", lambda grid: probability(single, grid)),
        (f"one hidden layer: {hidden_accuracy:.0%}", lambda grid: probability(hidden, grid))], X, Y)
    print_table("XOR (1969)", [("single layer", f"{single_accuracy:.0%}"), ("hidden layer", f"{hidden_accuracy:.0%}")])
    require(single_accuracy <= 0.75, "a single layer should not solve XOR")
    require(hidden_accuracy == 1.0, f"the hidden layer reached only {hidden_accuracy:.0%}")


if __name__ == "__main__":
    run_main(main)
