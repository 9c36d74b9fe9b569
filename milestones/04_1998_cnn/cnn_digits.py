"""Milestone 04a: a small convolutional network (LeCun et al., 1998) on the 8x8 digits (>= 97% test accuracy).

    python milestones/04_1998_cnn/cnn_digits.py [--quick]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import blas_limit, data_hash, digits_split, fast_model, parse_args, print_table, require, run_main, save_result, train_classifier  # noqa: E402

args = parse_args(__doc__.splitlines()[0])

import numpy as np  # noqa: E402

from tinytorch.core.activations import ReLU  # noqa: E402
from tinytorch.core.layers import Linear, Sequential  # noqa: E402
from tinytorch.core.spatial import BatchNorm2d, Conv2d, Flatten, MaxPool2d  # noqa: E402


def main() -> None:
    rng = np.random.default_rng(args.seed)
    train, test = digits_split(args.data, rng)
    model = Sequential(Conv2d(1, 16, 3, padding=1, rng=rng), BatchNorm2d(16), ReLU(), MaxPool2d(2),
                       Conv2d(16, 32, 3, padding=1, rng=rng), BatchNorm2d(32), ReLU(), MaxPool2d(2),
                       Flatten(), Linear(32 * 2 * 2, 10, rng=rng))
    model = fast_model(model, args)
    with blas_limit(args):
        result = train_classifier(model, train, test, epochs=4 if args.quick else 20, batch_size=32, max_lr=3e-3,
                                  seed=args.seed, label="digits cnn")
    result["data_sha256"] = data_hash(*train, *test)
    history = result.pop("history")
    save_result("04_cnn_digits", args, result, {"train loss": history["train_loss"], "test accuracy": history["eval_accuracy"]})
    print_table("CNN on 8x8 digits", [("test accuracy", f"{result['test_accuracy']:.2%}"), ("epochs", str(result["epochs"]))])
    require(result["test_accuracy"] >= (0.80 if args.quick else 0.97), f"test accuracy {result['test_accuracy']:.2%} is below the target")


if __name__ == "__main__":
    run_main(main)
