"""Milestone 03: backpropagation trains a multi-layer perceptron (Rumelhart, Hinton & Williams, 1986).

Two hidden layers with ReLU, trained end to end with backprop, on the 8x8 UCI digits
(target >= 95% test accuracy) and on MNIST (target >= 97.5% on the 10,000 test images).

    python milestones/03_1986_mlp/mlp.py [--dataset digits|mnist|both] [--quick]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import (data_hash, digits_split, mnist_flat, parse_args, print_table, require,  # noqa: E402
                    run_main, save_result, train_classifier)

args = parse_args(__doc__.splitlines()[0],
                  lambda p: p.add_argument("--dataset", choices=["digits", "mnist", "both"], default="both"))

import numpy as np  # noqa: E402

from tinytorch.core.activations import ReLU  # noqa: E402
from tinytorch.core.layers import Linear, Sequential  # noqa: E402


def mlp(sizes: list[int], rng: np.random.Generator) -> Sequential:
    layers = []
    for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
        layers += [Linear(fan_in, fan_out, rng=rng, init="he"), ReLU()]
    return Sequential(*layers, Linear(sizes[-2], sizes[-1], rng=rng))


def run_digits(rng: np.random.Generator) -> dict:
    train, test = digits_split(args.data, rng, flatten=True)
    result = train_classifier(mlp([64, 128, 64, 10], rng), train, test, epochs=10 if args.quick else 40,
                              batch_size=32, max_lr=3e-3, seed=args.seed, label="digits mlp")
    result["data_sha256"] = data_hash(*train, *test)
    return result


def run_mnist(rng: np.random.Generator) -> dict:
    (x_train, y_train), (x_test, y_test) = mnist_flat(args.data, rng, (3000, 1000) if args.quick else None)
    epochs = 2 if args.quick else 8
    result = train_classifier(mlp([784, 256, 128, 10], rng), (x_train, y_train), (x_test, y_test), epochs=epochs,
                              batch_size=128, max_lr=2e-3, weight_decay=1e-4, seed=args.seed, label="mnist mlp")
    result["data_sha256"] = data_hash(x_train, y_train, x_test, y_test)
    return result


def main() -> None:
    rng = np.random.default_rng(args.seed)
    targets = {"digits": (0.85, 0.95), "mnist": (0.85, 0.975)}
    runs = {"digits": run_digits, "mnist": run_mnist}
    chosen = ["digits", "mnist"] if args.dataset == "both" else [args.dataset]
    rows, failures = [], []
    for name in chosen:
        result = runs[name](rng)
        history = result.pop("history")
        save_result(f"03_mlp_{name}", args, result, {"train loss": history["train_loss"],
                                                      "test accuracy": history["eval_accuracy"]})
        target = targets[name][0 if args.quick else 1]
        rows.append((f"{name} test accuracy", f"{result['test_accuracy']:.2%} (target {target:.1%})"))
        if result["test_accuracy"] < target:
            failures.append(name)
    print_table("Multi-layer perceptron (1986)", rows)
    require(not failures, f"below target on {', '.join(failures)}")


if __name__ == "__main__":
    run_main(main)
