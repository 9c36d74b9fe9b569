"""Milestone 06a: profile, quantize and prune the MNIST MLP, every figure measured (MLPerf, 2018).

Train the 784-256-128-10 MLP of milestone 03, profile it (parameters, FLOPs, bytes, latency,
per-layer table), then:
- int8: post-training quantization with calibration; target >= 3.9x fewer bytes, <= 1 point lost;
- 80% global magnitude pruning, fine-tuned with the masks held; target <= 2 points lost;
- the capstone pipeline (remove half the hidden channels, fine-tune, int8) and its before/after report.

    python milestones/06_2018_mlperf/compress_mlp.py [--quick]
"""

import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import data_hash, mnist_flat, parse_args, print_table, require, results_dir, run_main, save_result, train_classifier  # noqa: E402

args = parse_args(__doc__.splitlines()[0])

import numpy as np  # noqa: E402

from tinytorch.bench import predict  # noqa: E402
from tinytorch.capstone import optimize, write_report  # noqa: E402
from tinytorch.core.activations import ReLU  # noqa: E402
from tinytorch.core.layers import Linear, Sequential  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402
from tinytorch.perf.compression import magnitude_prune, sparsity  # noqa: E402
from tinytorch.perf.profiling import count_parameters, measure_latency, model_bytes, profile_model  # noqa: E402
from tinytorch.perf.quantization import quantize_model  # noqa: E402


def accuracy(model, data) -> float:
    return float(np.mean(predict(model, data[0], 500) == data[1]))


def finetune(model, train, epochs: int, masks=None) -> None:
    """A short, low learning-rate run; pruned weights are re-zeroed after every optimizer step."""
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import AdamW

    optimizer, loss_fn = AdamW(model.parameters(), lr=5e-4), CrossEntropyLoss()
    rng = np.random.default_rng(args.seed + 1)
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(train[0]))
        for start in range(0, len(order), 128):
            pick = order[start:start + 128]
            loss = loss_fn(model(Tensor(train[0][pick])), train[1][pick])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if masks is not None:
                masks.apply()
    model.eval()


def main() -> None:
    rng = np.random.default_rng(args.seed)
    (x_train, y_train), (x_test, y_test) = mnist_flat(args.data, rng, (4000, 1000) if args.quick else None)
    epochs = 3 if args.quick else 6
    train, test = (x_train, y_train), (x_test, y_test)
    model = Sequential(Linear(784, 256, rng=rng, init="he"), ReLU(), Linear(256, 128, rng=rng, init="he"), ReLU(),
                       Linear(128, 10, rng=rng))
    trained = train_classifier(model, train, test, epochs=epochs, batch_size=128, max_lr=2e-3, weight_decay=1e-4,
                               seed=args.seed, label="mnist mlp")
    model.eval()
    base_accuracy = accuracy(model, test)

    profile = profile_model(model, Tensor(x_test[:1]))
    print(profile.table())
    latency_1 = measure_latency(predict, model, x_test[:1], 1, warmup=5, repeats=100)
    latency_256 = measure_latency(predict, model, x_test[:256], 256, warmup=2, repeats=20)

    int8 = quantize_model(model, [Tensor(x_train[:1000])])
    int8_accuracy = accuracy(int8, test)
    size_ratio = model_bytes(model) / model_bytes(int8)

    pruned = copy.deepcopy(model)
    masks = magnitude_prune(pruned, 0.8, scope="global")
    pruned_accuracy_before = accuracy(pruned, test)
    finetune(pruned, train, epochs=1 if args.quick else 2, masks=masks)
    pruned_accuracy = accuracy(pruned, test)

    _, report = optimize(model, test, calibration=x_train[:1000], channel_amount=0.5,
                         finetune=lambda m: finetune(m, train, epochs=1), model_name="MNIST MLP 784-256-128-10")
    if not args.no_save:
        write_report(report, results_dir(args), name="06_capstone_mlp_quick" if args.quick else "06_capstone_mlp")

    result = {
        "baseline": {"test_accuracy": base_accuracy, "parameters": count_parameters(model),
                     "bytes": model_bytes(model), "flops_per_sample": profile.total_flops,
                     "latency_batch1_p50_ms": latency_1.p50_ms, "latency_batch1_p99_ms": latency_1.p99_ms,
                     "latency_batch256_p50_ms": latency_256.p50_ms, "bottleneck": profile.bottleneck().name,
                     "train_wall_time_s": trained["wall_time_s"], "epochs": epochs},
        "int8": {"test_accuracy": int8_accuracy, "bytes": model_bytes(int8), "size_ratio": size_ratio,
                 "accuracy_drop_points": 100 * (base_accuracy - int8_accuracy)},
        "pruning": {"sparsity": sparsity(pruned), "test_accuracy_before_finetune": pruned_accuracy_before,
                    "test_accuracy": pruned_accuracy, "accuracy_drop_points": 100 * (base_accuracy - pruned_accuracy)},
        "capstone": {key: value for key, value in report.to_dict().items() if key != "profile_table"},
        "data_sha256": data_hash(x_train, y_train, x_test, y_test),
    }
    save_result("06_mnist_mlp", args, result, {"train loss": trained["history"]["train_loss"],
                                               "test accuracy": trained["history"]["eval_accuracy"]})
    print_table("MNIST MLP: measure, quantize, prune", [
        ("baseline accuracy", f"{base_accuracy:.2%}"),
        ("baseline bytes / params / FLOPs", f"{model_bytes(model):,} / {count_parameters(model):,} / {profile.total_flops:,}"),
        ("latency batch 1 (p50, p99)", f"{latency_1.p50_ms:.3f} ms, {latency_1.p99_ms:.3f} ms"),
        ("int8 bytes (ratio)", f"{model_bytes(int8):,} ({size_ratio:.2f}x smaller)"),
        ("int8 accuracy (drop)", f"{int8_accuracy:.2%} ({100 * (base_accuracy - int8_accuracy):+.2f} points)"),
        ("80% pruned sparsity", f"{sparsity(pruned):.1%}"),
        ("pruned accuracy before / after fine-tune", f"{pruned_accuracy_before:.2%} / {pruned_accuracy:.2%}"),
        ("capstone (channels + int8)", f"{report.size_ratio():.2f}x smaller, {report.speedup():.2f}x faster, "
                                       f"{100 * report.accuracy_drop():+.2f} points lost"),
    ])
    if args.quick:
        require(size_ratio >= 3.9, f"int8 model only {size_ratio:.2f}x smaller")
        require(int8_accuracy >= base_accuracy - 0.03, "int8 lost more than 3 points on the quick run")
        return
    require(size_ratio >= 3.9, f"int8 model only {size_ratio:.2f}x smaller (target 3.9x)")
    require(base_accuracy - int8_accuracy <= 0.01, "int8 lost more than 1 point")
    require(sparsity(pruned) >= 0.8 and base_accuracy - pruned_accuracy <= 0.02, "pruning target missed")


if __name__ == "__main__":
    run_main(main)
