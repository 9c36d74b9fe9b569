"""Module 19: benchmarking, TinyMLPerf: three events measured the same way on every machine.

An event fixes everything but the model: the dataset and the exact evaluation samples (a
seeded subset of the official test split), the quality metric and its floor, the batch sizes.
``run_event`` measures a model on it and returns a submission:

- quality (accuracy on the fixed samples; next-character accuracy for the language model);
- latency of single queries (batch 1): warm-up excluded, then mean and p50/p90/p99;
- throughput at the event's batch size (samples per second over the whole evaluation set);
- memory: bytes the model stores, and the peak bytes allocated by one inference batch.

A submission is valid only if its quality reaches the floor: speed bought with a broken model
does not count. Every submission is checked against ``SUBMISSION_SCHEMA`` (a JSON Schema)
before it is written, so the course leaderboard can trust its fields.

Systems point: one number never describes a system. Latency percentiles tell what a user waits
(the p99 is what the unlucky ones see), throughput tells what the hardware can serve, and both
trade against memory and accuracy.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor
from tinytorch.perf.profiling import count_parameters, measure_latency, model_bytes, peak_memory

SUBMISSION_VERSION = 1


@dataclass(frozen=True)
class Event:
    """What an event fixes: data, evaluation samples, quality floor, batch sizes."""

    name: str
    dataset: str            # "mnist", "cifar10" or "shakespeare"
    metric: str             # "accuracy" or "next_char_accuracy"
    floor: float            # minimum quality for a valid submission
    eval_samples: int       # size of the fixed evaluation subset
    batch_size: int         # throughput batch
    latency_queries: int = 50
    context: int = 0        # language model: characters per window


EVENTS: dict[str, Event] = {
    "mlp_sprint": Event("mlp_sprint", "mnist", "accuracy", floor=0.95, eval_samples=2000, batch_size=256),
    "cnn_marathon": Event("cnn_marathon", "cifar10", "accuracy", floor=0.50, eval_samples=1000, batch_size=100),
    "transformer_decathlon": Event("transformer_decathlon", "shakespeare", "next_char_accuracy", floor=0.40,
                                   eval_samples=200, batch_size=20, latency_queries=20, context=64),
}
EVAL_SEED = 19  # which test samples every submission is measured on


def event(name: str) -> Event:
    if name not in EVENTS:
        raise ValueError(f"unknown event {name!r}; TinyMLPerf has {', '.join(EVENTS)}")
    return EVENTS[name]


# ---------------------------------------------------------------------- data
@dataclass
class EventData:
    """Inputs and targets of an event's split: images (N, ...) and labels (N,), or windows (N, T) and next chars (N, T)."""

    inputs: np.ndarray
    targets: np.ndarray


def load_event_data(spec: Event, split: str = "eval", root=None) -> EventData:
    """The event's fixed evaluation samples (split="eval") or its whole training split (split="train").

    Eval samples are ``eval_samples`` items drawn once, without replacement, with EVAL_SEED, from
    the official test split (last 10% of the text for Shakespeare), so everyone is measured on
    the same data.
    """
    from tinytorch.core.dataloader import load_cifar10, load_mnist

    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
    if spec.dataset == "shakespeare":
        ids = shakespeare_ids(root)
        cut = int(len(ids) * 0.9)
        part = ids[cut:] if split == "eval" else ids[:cut]
        count = spec.eval_samples if split == "eval" else (len(part) - 1) // spec.context
        starts = np.random.default_rng(EVAL_SEED).choice(len(part) - spec.context - 1, size=count, replace=False)
        windows = part[starts[:, None] + np.arange(spec.context + 1)]
        return EventData(windows[:, :-1], windows[:, 1:])
    loader = load_mnist if spec.dataset == "mnist" else load_cifar10
    images, labels = loader(root, train=split == "train")
    if split == "eval":
        keep = np.random.default_rng(EVAL_SEED).choice(len(labels), size=spec.eval_samples, replace=False)
        images, labels = images[keep], labels[keep]
    return EventData(images, labels)


def shakespeare_ids(root=None) -> np.ndarray:
    """Tiny Shakespeare as character ids (CharTokenizer over the whole text: 65 characters + unknown)."""
    from tinytorch.core.dataloader import data_root
    from tinytorch.core.tokenization import CharTokenizer

    path = data_root(root) / "tinyshakespeare.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `make data` (or `tito data`), or pass the folder holding it")
    text = path.read_text(encoding="utf-8")
    return np.array(CharTokenizer().build_vocab(text).encode(text), dtype=np.int64)


# ---------------------------------------------------------------------- measuring
def predict(model, inputs: np.ndarray, batch_size: int) -> np.ndarray:
    """Argmax predictions of ``model`` over ``inputs`` in batches, in eval mode and without autograd.

    Classifiers: (N, ...) -> (N,) class ids. Language models: (N, T) -> (N, T) next-token ids.
    """
    #% solution hint="model.eval() under no_grad(); for each slice of batch_size rows: logits = model(Tensor or ids).data; keep logits.argmax(-1); concatenate."
    model.eval()
    outputs = []
    with no_grad():
        for start in range(0, len(inputs), batch_size):
            batch = inputs[start:start + batch_size]
            feed = batch if batch.dtype.kind == "i" else Tensor(batch)
            outputs.append(model(feed).data.argmax(axis=-1))
    return np.concatenate(outputs)
    #% endsolution


def quality(model, spec: Event, data: EventData) -> float:
    """Fraction of correct predictions (every position counts for the language model)."""
    #% solution hint="mean of predict(model, data.inputs, spec.batch_size) == data.targets, as a float."
    return float(np.mean(predict(model, data.inputs, spec.batch_size) == data.targets))
    #% endsolution


def single_query_latency(model, spec: Event, data: EventData) -> dict:
    """Latency of batch-1 queries in ms: the first ``latency_queries`` eval samples, 3 warm-up calls."""
    #% solution hint="Cycle through the first latency_queries samples (inputs[i:i+1]) with a counter inside the timed function; measure_latency(..., warmup=3, repeats=latency_queries); return mean, p50, p90, p99."
    queries = data.inputs[:spec.latency_queries]
    position = [0]

    def one_query():
        sample = queries[position[0] % len(queries)][None]
        position[0] += 1
        return predict(model, sample, 1)

    timing = measure_latency(one_query, warmup=3, repeats=spec.latency_queries)
    return {"mean": timing.mean_ms, "p50": timing.p50_ms, "p90": timing.p90_ms, "p99": timing.p99_ms}
    #% endsolution


def throughput(model, spec: Event, data: EventData) -> float:
    """Samples per second predicting the whole evaluation set at the event's batch size."""
    #% solution hint="One warm-up batch, then time predict(model, data.inputs, spec.batch_size) with time.perf_counter; len(inputs) / seconds."
    predict(model, data.inputs[:spec.batch_size], spec.batch_size)
    start = time.perf_counter()
    predict(model, data.inputs, spec.batch_size)
    return len(data.inputs) / (time.perf_counter() - start)
    #% endsolution


def system_info() -> dict:
    return {"python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform(),
            "cpu_count": os.cpu_count() or 1}


def run_event(name: str, model, data: EventData | None = None, root=None, model_name: str | None = None) -> dict:
    """Measure ``model`` on event ``name``; returns a submission that satisfies SUBMISSION_SCHEMA.

    ``data`` defaults to the event's fixed evaluation samples (``load_event_data``); tests pass
    their own small data.
    """
    spec = event(name)
    data = data if data is not None else load_event_data(spec, "eval", root)
    #% solution hint="Fill every field of SUBMISSION_SCHEMA: quality {metric, value, floor}, valid = value >= floor, latency_ms from single_query_latency, throughput {samples_per_s, batch_size}, memory {model_bytes, peak_inference_bytes (peak_memory of one batch)}, model {name, parameters, bytes}, system_info(), event, version."
    value = quality(model, spec, data)
    batch = data.inputs[:spec.batch_size]
    submission = {
        "event": spec.name,
        "version": SUBMISSION_VERSION,
        "model": {"name": model_name or type(model).__name__, "parameters": count_parameters(model),
                  "bytes": model_bytes(model)},
        "quality": {"metric": spec.metric, "value": value, "floor": spec.floor},
        "valid": value >= spec.floor,
        "latency_ms": single_query_latency(model, spec, data),
        "throughput": {"samples_per_s": throughput(model, spec, data), "batch_size": spec.batch_size},
        "memory": {"model_bytes": model_bytes(model),
                   "peak_inference_bytes": peak_memory(predict, model, batch, spec.batch_size)},
        "system": system_info(),
    }
    #% endsolution
    errors = validate_submission(submission)
    if errors:
        raise ValueError("the submission does not match SUBMISSION_SCHEMA: " + "; ".join(errors))
    return submission


# ---------------------------------------------------------------------- the submission format
def _number(minimum: float = 0.0, maximum: float | None = None) -> dict:
    schema = {"type": "number", "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def _object(**properties) -> dict:
    return {"type": "object", "required": list(properties), "properties": properties}


SUBMISSION_SCHEMA: dict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "TinyMLPerf submission",
    **_object(
        event={"type": "string", "enum": list(EVENTS)},
        version={"type": "integer", "minimum": 1},
        model=_object(name={"type": "string"}, parameters={"type": "integer", "minimum": 0},
                      bytes={"type": "integer", "minimum": 0}),
        quality=_object(metric={"type": "string", "enum": ["accuracy", "next_char_accuracy"]},
                        value=_number(0, 1), floor=_number(0, 1)),
        valid={"type": "boolean"},
        latency_ms=_object(mean=_number(), p50=_number(), p90=_number(), p99=_number()),
        throughput=_object(samples_per_s=_number(), batch_size={"type": "integer", "minimum": 1}),
        memory=_object(model_bytes={"type": "integer", "minimum": 0},
                       peak_inference_bytes={"type": "integer", "minimum": 0}),
        system=_object(python={"type": "string"}, numpy={"type": "string"}, platform={"type": "string"},
                       cpu_count={"type": "integer", "minimum": 1}),
    ),
}

_JSON_TYPES = {"object": dict, "string": str, "boolean": bool, "array": list}


def _has_type(value, expected: str) -> bool:
    if expected == "integer":
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    return isinstance(value, _JSON_TYPES[expected])


def validate_submission(submission, schema: dict = SUBMISSION_SCHEMA, path: str = "$") -> list[str]:
    """Every way ``submission`` breaks ``schema``, as messages naming the JSON path; [] when valid.

    Handles the keywords the schema uses: type, required, properties, enum, minimum, maximum.
    """
    #% solution hint="Check type first (stop there if wrong); then enum, minimum, maximum; for objects: each required key present, then recurse into properties with path + '.key'."
    if "type" in schema and not _has_type(submission, schema["type"]):
        return [f"{path}: expected {schema['type']}, got {type(submission).__name__}"]
    errors = []
    if "enum" in schema and submission not in schema["enum"]:
        errors.append(f"{path}: {submission!r} is not one of {schema['enum']}")
    if "minimum" in schema and submission < schema["minimum"]:
        errors.append(f"{path}: {submission} is below the minimum {schema['minimum']}")
    if "maximum" in schema and submission > schema["maximum"]:
        errors.append(f"{path}: {submission} is above the maximum {schema['maximum']}")
    for key in schema.get("required", []):
        if key not in submission:
            errors.append(f"{path}: missing required field {key!r}")
    for key, child in schema.get("properties", {}).items():
        if isinstance(submission, dict) and key in submission:
            errors.extend(validate_submission(submission[key], child, f"{path}.{key}"))
    return errors
    #% endsolution


def write_submission(submission: dict, path) -> Path:
    """Validate, then write the submission as JSON (NumPy numbers become plain numbers)."""
    errors = validate_submission(submission)
    if errors:
        raise ValueError("refusing to write an invalid submission: " + "; ".join(errors))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(submission, indent=2, default=_plain) + "\n", encoding="utf-8")
    return path


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# ---------------------------------------------------------------------- baselines
def baseline_model(name: str, rng: np.random.Generator | None = None):
    """The reference architecture of each event (a starting point to beat, not the only allowed model)."""
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear, Sequential
    from tinytorch.core.spatial import Conv2d, Flatten, MaxPool2d
    from tinytorch.core.transformer import GPT

    rng = rng if rng is not None else np.random.default_rng(0)
    spec = event(name)
    if spec.name == "mlp_sprint":
        return Sequential(Flatten(), Linear(784, 256, rng=rng), ReLU(), Linear(256, 10, rng=rng))
    if spec.name == "cnn_marathon":
        return Sequential(Conv2d(3, 32, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2),
                          Conv2d(32, 64, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2),
                          Flatten(), Linear(64 * 8 * 8, 128, rng=rng), ReLU(), Linear(128, 10, rng=rng))
    return GPT(vocab_size=66, embed_dim=128, num_layers=4, num_heads=4, max_seq_len=spec.context, rng=rng)


def train_baseline(name: str, model, data: EventData, steps: int, batch_size: int = 64, lr: float = 3e-3,
                   seed: int = 0, progress=None):
    """A short AdamW + OneCycle training run of ``steps`` minibatches (enough to pass the floor)."""
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import AdamW
    from tinytorch.core.training import OneCycleLR

    rng = np.random.default_rng(seed)
    optimizer = AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = OneCycleLR(lr, total_steps=steps, optimizer=optimizer)
    loss_fn = CrossEntropyLoss()
    model.train()
    for step in range(steps):
        pick = rng.integers(0, len(data.inputs), batch_size)
        inputs, targets = data.inputs[pick], data.targets[pick]
        logits = model(inputs if inputs.dtype.kind == "i" else Tensor(inputs))
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if progress is not None:
            progress(step, loss.item())
    return model.eval()


BASELINE_STEPS = {"mlp_sprint": 600, "cnn_marathon": 1500, "transformer_decathlon": 1500}


def main(argv: list[str] | None = None) -> int:
    """``python -m tinytorch.bench EVENT [--out FILE] [--steps N]``: train the baseline, measure it, write the JSON."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tinytorch.bench", description="TinyMLPerf: run one event")
    parser.add_argument("event", choices=list(EVENTS))
    parser.add_argument("--out", help="where the submission JSON goes (default: print it)")
    parser.add_argument("--steps", type=int, help="baseline training steps (default per event)")
    parser.add_argument("--data", help="dataset folder (default $TINYTORCH_DATA or ~/.tinytorch/data)")
    args = parser.parse_args(argv)
    spec = event(args.event)
    train = load_event_data(spec, "train", args.data)
    steps = args.steps or BASELINE_STEPS[spec.name]
    started = time.perf_counter()
    model = train_baseline(spec.name, baseline_model(spec.name), train, steps)
    print(f"trained the {spec.name} baseline for {steps} steps in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    submission = run_event(spec.name, model, root=args.data, model_name=f"baseline ({steps} steps)")
    if args.out:
        print(f"wrote {write_submission(submission, args.out)}", file=sys.stderr)
    else:
        print(json.dumps(submission, indent=2, default=_plain))
    return 0 if submission["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
