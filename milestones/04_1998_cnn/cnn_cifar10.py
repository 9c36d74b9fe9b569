"""Milestone 04b: a convolutional network on CIFAR-10, the course's north star (>= 75% test accuracy).

Five 3x3 convolutions with BatchNorm and ReLU, three max-pools, one linear classifier
(conv 3->32->32, pool, 32->64->64, pool, 64->128, pool, linear 2048->10), trained with AdamW and a
one-cycle schedule on random crops and flips. Full run: 10 epochs on the 50,000 training images,
evaluated on the 10,000 test images.

    python milestones/04_1998_cnn/cnn_cifar10.py            # full run
    python milestones/04_1998_cnn/cnn_cifar10.py --quick    # 2,000 images, 2 epochs (CI)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import blas_limit, data_hash, fast_model, parse_args, print_table, require, run_main, save_result, train_classifier  # noqa: E402

args = parse_args(__doc__.splitlines()[0], lambda p: p.add_argument("--epochs", type=int, default=10))

import numpy as np  # noqa: E402

from tinytorch.core.activations import ReLU  # noqa: E402
from tinytorch.core.dataloader import Compose, Normalize, RandomCrop, RandomHorizontalFlip, load_cifar10  # noqa: E402
from tinytorch.core.layers import Linear, Sequential  # noqa: E402
from tinytorch.core.spatial import BatchNorm2d, Conv2d, Flatten, MaxPool2d  # noqa: E402

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def build_model(rng: np.random.Generator) -> Sequential:
    def block(c_in, c_out):
        return [Conv2d(c_in, c_out, 3, padding=1, bias=False, rng=rng), BatchNorm2d(c_out), ReLU()]

    return Sequential(*block(3, 32), *block(32, 32), MaxPool2d(2),
                      *block(32, 64), *block(64, 64), MaxPool2d(2),
                      *block(64, 128), MaxPool2d(2),
                      Flatten(), Linear(128 * 4 * 4, 10, rng=rng))


def first_reaching(accuracies: list[float], epoch_end_s: list[float], target: float) -> str:
    """'epoch N, T s' for the first epoch whose test accuracy reached ``target`` (wall time at its end)."""
    for epoch, (accuracy, seconds) in enumerate(zip(accuracies, epoch_end_s), start=1):
        if accuracy >= target:
            return f"epoch {epoch}, {seconds:.0f} s"
    return "not reached"


def main() -> None:
    rng = np.random.default_rng(args.seed)
    x_train, y_train = load_cifar10(args.data, train=True)
    x_test, y_test = load_cifar10(args.data, train=False)
    epochs = args.epochs
    if args.quick:
        train_pick = rng.permutation(len(x_train))[:2000]  # the official files are not class-balanced at the start
        test_pick = rng.permutation(len(x_test))[:1000]
        x_train, y_train, x_test, y_test = x_train[train_pick], y_train[train_pick], x_test[test_pick], y_test[test_pick]
        epochs = 2
    normalize = Normalize(MEAN, STD)
    augment = Compose([RandomCrop(32, padding=4, rng=rng), RandomHorizontalFlip(rng=rng), normalize])
    model = fast_model(build_model(rng), args)
    with blas_limit(args):
        result = train_classifier(model, (x_train, y_train), (normalize(x_test), y_test), epochs=epochs,
                                  batch_size=128, max_lr=3e-3, weight_decay=5e-4, transform=augment, seed=args.seed,
                                  label="cifar10")
    result["data_sha256"] = data_hash(x_train, y_train, x_test, y_test)
    result["train_images"], result["test_images"] = len(x_train), len(x_test)
    history = result.pop("history")
    save_result("04_cnn_cifar10", args, result, {"train loss": history["train_loss"], "test loss": history["eval_loss"],
                                                 "test accuracy": history["eval_accuracy"]})
    reached = [(f"first >= {target:.0%}", first_reaching(history["eval_accuracy"], result["epoch_end_s"], target))
               for target in (0.75, 0.80)]
    print_table("CIFAR-10 CNN", [("test accuracy", f"{result['test_accuracy']:.2%}"), ("epochs", str(epochs)),
                                 ("wall time", f"{result['wall_time_s']:.0f} s"), ("train images", str(len(x_train))),
                                 *reached])
    require(result["test_accuracy"] >= (0.30 if args.quick else 0.75),
            f"test accuracy {result['test_accuracy']:.2%} is below the target")


if __name__ == "__main__":
    run_main(main)
