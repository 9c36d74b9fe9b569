"""Shared machinery of the milestone scripts: which tinytorch to use, progress, results, plots.

Every milestone script:
- runs on the reference tinytorch by default, or on a student's tree with ``--tinytorch PATH``
  (or ``TINYTORCH_PATH``), which goes first on ``sys.path`` before tinytorch is imported;
- shows rich progress bars in a terminal and plain lines when piped;
- writes ``milestones/results/local/<name>[_quick].json`` (metrics, curves, epochs, wall time, seed,
  data hash, command, versions) and a PNG of its curves (loss and accuracy in separate panels) when
  matplotlib is installed; ``--record`` writes into ``milestones/results/`` instead, the committed
  record of full runs, so an ordinary run never overwrites it;
- has a ``--quick`` mode (data subset, short schedule) that asserts learning well above chance;
- stops with one line naming ``make data`` / ``tito data`` when a dataset is missing (``run_main``),
  so ``milestones/run.py`` goes on with the milestone's other scripts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from coursetools.allocator import add_memory_option, choose_allocator
from coursetools.threads import add_thread_options, choose_threads, kernel_note

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
"""The committed results of full runs (written only with --record)."""
LOCAL_RESULTS = RESULTS / "local"
"""Where ordinary runs write (git-ignored)."""
DATA_MISSING = 3
"""Exit code of a script that could not find its dataset (milestones/run.py goes on after it)."""


def parse_args(description: str, extra=None) -> argparse.Namespace:
    """Common flags; puts the chosen tinytorch first on sys.path before anything imports it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small data and schedule, for CI (asserts learning)")
    parser.add_argument("--tinytorch", default=os.environ.get("TINYTORCH_PATH"),
                        help="folder holding a tinytorch package to run instead of the reference (e.g. a student repo)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None, help="dataset folder (default: $TINYTORCH_DATA or ~/.tinytorch/data)")
    parser.add_argument("--no-save", action="store_true", help="do not write any result file")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--record", action="store_true",
                       help="write into milestones/results/ (the committed record) instead of milestones/results/local/")
    where.add_argument("--results", default=None, help="write the result files into this folder instead")
    parser.add_argument("--plain", action="store_true",
                        help="train on the layers as built (module 09's path) instead of accelerate(model) (module 18)")
    add_thread_options(parser)
    add_memory_option(parser)
    if extra:
        extra(parser)
    args = parser.parse_args()
    if args.tinytorch:
        sys.path.insert(0, str(Path(args.tinytorch).resolve()))
    args.threads_plan = choose_threads(args.threads, args.workers)
    print(args.threads_plan.describe())
    print(kernel_note())
    print(choose_allocator(args.return_memory))
    return args


def fast_model(model, args):
    """``accelerate(model)`` (module 18) unless ``--plain``; a tree whose module 18 is not done yet
    trains on the layers as built, and says so. Sets ``args.accelerated`` for ``blas_limit``."""
    args.accelerated = False
    if args.plain:
        return model
    try:
        from tinytorch.perf.acceleration import accelerate

        model, args.accelerated = accelerate(model, workers=args.threads_plan.workers), True
    except (ImportError, NotImplementedError) as error:
        print(f"training on the plain layers: the accelerated path (module 18) is not available ({error})")
    return model


def blas_limit(args):
    """BLAS threads for training: the plan's per-worker threads on the accelerated path (its
    workers run BLAS side by side), its serial threads on the plain layers (one call at a time)."""
    plan = args.threads_plan
    return plan.limit(plan.blas_threads if getattr(args, "accelerated", False) else plan.serial_threads)


def tinytorch_location() -> str:
    """Which tinytorch ran: relative to the repository when it is the repository's (no machine's path
    in a result file), else the folder name of the tree given with --tinytorch."""
    import tinytorch

    package = Path(tinytorch.__file__).resolve().parent
    repository = HERE.parent.resolve()
    if repository in package.parents:
        return package.relative_to(repository).as_posix()
    return f"{package.parent.name}/{package.name} (outside the repository)"


def data_hash(*arrays: np.ndarray) -> str:
    """sha256 over the arrays' bytes: which data a result was measured on."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


class Progress:
    """A rich progress bar in a terminal; a line every ``every`` updates otherwise."""

    def __init__(self, total: int, description: str, every: int = 50):
        self.total, self.description, self.every, self.done = total, description, every, 0
        self.rich = None
        if sys.stdout.isatty():
            try:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeRemainingColumn

                self.rich = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                         TextColumn("{task.fields[info]}"), TimeRemainingColumn())
                self.rich.start()
                self.task = self.rich.add_task(description, total=total, info="")
            except ImportError:
                self.rich = None

    def update(self, info: str = "") -> None:
        self.done += 1
        if self.rich is not None:
            self.rich.update(self.task, advance=1, info=info)
        elif self.done % self.every == 0 or self.done == self.total:
            print(f"{self.description} {self.done}/{self.total} {info}", flush=True)

    def close(self) -> None:
        if self.rich is not None:
            self.rich.stop()


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        for key, value in rows:
            print(f"  {key}: {value}")
        return
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value")
    for key, value in rows:
        table.add_row(key, value)
    Console().print(table)


def results_dir(args: argparse.Namespace) -> Path:
    """--results if given, milestones/results/ with --record, milestones/results/local/ otherwise (created)."""
    folder = Path(args.results).resolve() if args.results else RESULTS if args.record else LOCAL_RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def result_stem(name: str, args: argparse.Namespace) -> str:
    return f"{name}_quick" if args.quick else name


def save_result(name: str, args: argparse.Namespace, result: dict, curves: dict[str, list[float]] | None = None,
                x_label: str = "epoch") -> Path | None:
    """Write the JSON result (and a PNG of the curves) unless --no-save; says where."""
    if args.no_save:
        return None
    folder, stem = results_dir(args), result_stem(name, args)
    record = {
        "milestone": name,
        "quick": args.quick,
        "command": "python " + " ".join([Path(sys.argv[0]).resolve().relative_to(HERE.parent).as_posix(), *sys.argv[1:]]),
        "seed": args.seed,
        "tinytorch": tinytorch_location(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        "threads": args.threads_plan.as_dict(),
        "blas_kernels": kernel_note(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        **result,
        "curves": curves or {},
    }
    path = folder / f"{stem}.json"
    path.write_text(json.dumps(record, indent=1), encoding="utf-8")
    print(f"result written to {_shown(path)}")
    if curves and plot_curves(folder / f"{stem}.png", name, curves, x_label):
        print(f"curves drawn in {_shown(folder / f'{stem}.png')}")
    return path


def _shown(path: Path) -> str:
    """A path relative to the course repository when inside it."""
    return path.relative_to(HERE.parent).as_posix() if path.is_relative_to(HERE.parent) else str(path)


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def plot_curves(path: Path, title: str, curves: dict[str, list[float]], x_label: str = "epoch") -> bool:
    """Loss curves in one panel, accuracy curves in another, each axis labelled; False without matplotlib."""
    plt = _pyplot()
    if plt is None:
        return False
    groups = {"loss": {k: v for k, v in curves.items() if "acc" not in k.lower()},
              "accuracy": {k: v for k, v in curves.items() if "acc" in k.lower()}}
    groups = {kind: found for kind, found in groups.items() if found}
    figure, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4), squeeze=False)
    for axis, (kind, found) in zip(axes[0], groups.items()):
        for label, values in found.items():
            axis.plot(range(1, len(values) + 1), values, label=label)
        axis.set_title(f"{title}: {kind}")
        axis.set_xlabel(x_label)
        axis.set_ylabel(kind)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


def plot_decision_boundaries(name: str, args: argparse.Namespace, panels: list[tuple[str, object]],
                             points: np.ndarray, labels: np.ndarray) -> Path | None:
    """Each panel's model as a shaded P(class 1) over the plane, its 0.5 contour and the labelled points.

    ``panels``: (title, predict) with predict mapping (M, 2) float32 points to (M,) probabilities.
    Written beside the result as ``<name>[_quick]_boundary.png`` unless --no-save.
    """
    plt = _pyplot()
    if args.no_save or plt is None:
        return None
    margin = 0.25 * (points.max(axis=0) - points.min(axis=0)) + 0.1
    low, high = points.min(axis=0) - margin, points.max(axis=0) + margin
    gx, gy = np.meshgrid(np.linspace(low[0], high[0], 200), np.linspace(low[1], high[1], 200))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.5), squeeze=False)
    for axis, (title, predict) in zip(axes[0], panels):
        probability = np.asarray(predict(grid), dtype=np.float64).reshape(gx.shape)
        shaded = axis.contourf(gx, gy, probability, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
        axis.contour(gx, gy, probability, levels=[0.5], colors="black", linewidths=1.5)
        for value, marker in ((0, "o"), (1, "^")):
            chosen = labels.reshape(-1) == value
            axis.scatter(points[chosen, 0], points[chosen, 1], marker=marker, edgecolors="black",
                         c="tab:blue" if value == 0 else "tab:red", s=40, label=f"class {value}")
        axis.set_title(title)
        axis.set_xlabel("x1")
        axis.set_ylabel("x2")
        axis.legend(loc="lower right")
        figure.colorbar(shaded, ax=axis, label="P(class 1)")
    figure.tight_layout()
    path = results_dir(args) / f"{result_stem(name, args)}_boundary.png"
    figure.savefig(path, dpi=100)
    plt.close(figure)
    print(f"decision boundary drawn in {_shown(path)}")
    return path


def run_main(main) -> None:
    """Run a script's main; a missing dataset ends it with one line naming the fix (exit DATA_MISSING)."""
    try:
        main()
    except FileNotFoundError as error:
        message = str(error)
        if not any(word in message for word in ("make data", "tito data", "TINYTORCH_DATA")):
            raise  # not a dataset the loaders looked for: a real error, with its traceback
        print(f"DATA MISSING: {message}", file=sys.stderr)
        sys.exit(DATA_MISSING)


def require(condition: bool, message: str) -> None:
    """Fail a milestone (exit 1) when it did not reach what it set out to show."""
    if not condition:
        print(f"MILESTONE NOT REACHED: {message}", file=sys.stderr)
        sys.exit(1)


def digits_split(data_dir, rng: np.random.Generator, flatten: bool = False):
    """The 8x8 digits shuffled with ``rng``: 1,400 images to train on, the other 397 to test on."""
    from tinytorch.core.dataloader import load_digits

    images, labels = load_digits(data_dir)
    order = rng.permutation(len(images))
    images, labels = images[order], labels[order]
    if flatten:
        images = images.reshape(len(images), -1)
    return (images[:1400], labels[:1400]), (images[1400:], labels[1400:])


def mnist_flat(data_dir, rng: np.random.Generator, quick_sizes: tuple[int, int] | None = None):
    """MNIST as (N, 784) rows: the official train and test splits, or random subsets of the given sizes."""
    from tinytorch.core.dataloader import load_mnist

    (x_train, y_train), (x_test, y_test) = (load_mnist(data_dir, train=split) for split in (True, False))
    x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    if quick_sizes:
        pick_train = rng.permutation(len(x_train))[:quick_sizes[0]]
        pick_test = rng.permutation(len(x_test))[:quick_sizes[1]]
        x_train, y_train, x_test, y_test = x_train[pick_train], y_train[pick_train], x_test[pick_test], y_test[pick_test]
    return (x_train, y_train), (x_test, y_test)


def train_classifier(model, train_data, test_data, *, epochs: int, batch_size: int, max_lr: float,
                     weight_decay: float = 0.0, transform=None, seed: int = 0, label: str = "train") -> dict:
    """OneCycle AdamW training with per-epoch test evaluation; returns the curves, the wall time at the
    end of each epoch (evaluation included) and the final figures."""
    from tinytorch.core.dataloader import DataLoader, TensorDataset
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import AdamW
    from tinytorch.core.training import OneCycleLR, Trainer

    train_loader = DataLoader(TensorDataset(*train_data), batch_size=batch_size, shuffle=True, seed=seed,
                              transform=transform)
    test_loader = DataLoader(TensorDataset(*test_data), batch_size=500)
    optimizer = AdamW(model.parameters(), lr=max_lr, weight_decay=weight_decay)
    schedule = OneCycleLR(max_lr, total_steps=epochs * len(train_loader), optimizer=optimizer)
    trainer = Trainer(model, optimizer, CrossEntropyLoss(), scheduler=schedule, step_scheduler_per="step")
    started = time.perf_counter()
    epoch_end_s = []
    for epoch in range(1, epochs + 1):
        bar = Progress(len(train_loader), f"{label} epoch {epoch}/{epochs}")
        trainer.train_epoch(train_loader, progress=lambda loss: bar.update(f"loss {loss:.3f}"))
        bar.close()
        loss, accuracy = trainer.evaluate(test_loader)
        epoch_end_s.append(round(time.perf_counter() - started, 1))
        print(f"{label} epoch {epoch}: train loss {trainer.history['train_loss'][-1]:.4f}, "
              f"test loss {loss:.4f}, test accuracy {accuracy:.2%}, {time.perf_counter() - started:.0f} s", flush=True)
    return {
        "test_accuracy": trainer.history["eval_accuracy"][-1],
        "test_loss": trainer.history["eval_loss"][-1],
        "epochs": epochs,
        "wall_time_s": round(time.perf_counter() - started, 1),
        "epoch_end_s": epoch_end_s,
        "history": trainer.history,
    }
