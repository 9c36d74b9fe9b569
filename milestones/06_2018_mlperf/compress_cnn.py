"""Milestone 06b: the digits CNN of milestone 04 quantized to int8 (target >= 3.9x fewer bytes, <= 1 point lost).

Conv2d and Linear weights become int8 per output channel; BatchNorm's few floats stay float32,
which is why the whole model shrinks slightly less than 4x.

    python milestones/06_2018_mlperf/compress_cnn.py [--quick]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import data_hash, digits_split, parse_args, print_table, require, run_main, save_result, train_classifier  # noqa: E402

args = parse_args(__doc__.splitlines()[0])

import numpy as np  # noqa: E402

from tinytorch.bench import predict  # noqa: E402
from tinytorch.core.activations import ReLU  # noqa: E402
from tinytorch.core.layers import Linear, Sequential  # noqa: E402
from tinytorch.core.spatial import BatchNorm2d, Conv2d, Flatten, MaxPool2d  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402
from tinytorch.perf.profiling import measure_latency, model_bytes, profile_model  # noqa: E402
from tinytorch.perf.quantization import quantize_model  # noqa: E402


def main() -> None:
    rng = np.random.default_rng(args.seed)
    train, test = digits_split(args.data, rng)
    model = Sequential(Conv2d(1, 32, 3, padding=1, rng=rng), BatchNorm2d(32), ReLU(), MaxPool2d(2),
                       Conv2d(32, 64, 3, padding=1, rng=rng), BatchNorm2d(64), ReLU(), MaxPool2d(2),
                       Flatten(), Linear(64 * 2 * 2, 10, rng=rng))
    trained = train_classifier(model, train, test, epochs=4 if args.quick else 20, batch_size=32, max_lr=3e-3,
                               seed=args.seed, label="digits cnn")
    model.eval()
    base_accuracy = float(np.mean(predict(model, test[0], 500) == test[1]))
    profile = profile_model(model, Tensor(test[0][:1]))
    print(profile.table())
    int8 = quantize_model(model, [Tensor(train[0][:500])])
    int8_accuracy = float(np.mean(predict(int8, test[0], 500) == test[1]))
    size_ratio = model_bytes(model) / model_bytes(int8)
    latency = {name: measure_latency(predict, net, test[0][:1], 1, warmup=5, repeats=50).p50_ms
               for name, net in (("float32", model), ("int8", int8))}
    drop = 100 * (base_accuracy - int8_accuracy)
    result = {
        "baseline": {"test_accuracy": base_accuracy, "bytes": model_bytes(model), "flops_per_sample": profile.total_flops,
                     "latency_batch1_p50_ms": latency["float32"], "bottleneck": profile.bottleneck().name,
                     "train_wall_time_s": trained["wall_time_s"]},
        "int8": {"test_accuracy": int8_accuracy, "bytes": model_bytes(int8), "size_ratio": size_ratio,
                 "accuracy_drop_points": drop, "latency_batch1_p50_ms": latency["int8"]},
        "data_sha256": data_hash(*train, *test),
    }
    save_result("06_digits_cnn", args, result, {"train loss": trained["history"]["train_loss"],
                                                "test accuracy": trained["history"]["eval_accuracy"]})
    print_table("Digits CNN in int8", [
        ("float32 accuracy / bytes", f"{base_accuracy:.2%} / {model_bytes(model):,}"),
        ("int8 accuracy / bytes", f"{int8_accuracy:.2%} / {model_bytes(int8):,}"),
        ("size ratio", f"{size_ratio:.2f}x"), ("accuracy drop", f"{drop:+.2f} points"),
        ("latency batch 1 p50 float32 / int8", f"{latency['float32']:.3f} / {latency['int8']:.3f} ms"),
    ])
    require(size_ratio >= 3.9, f"int8 model only {size_ratio:.2f}x smaller (target 3.9x)")
    require(drop <= (3.0 if args.quick else 1.0), f"int8 lost {drop:.2f} points")


if __name__ == "__main__":
    run_main(main)
