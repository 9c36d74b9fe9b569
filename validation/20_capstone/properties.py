"""Randomized properties that confirm module 20's equivalent marks (docs/DESIGN.md section 10)."""

import numpy as np

from tinytorch.capstone import CapstoneReport, Snapshot, snapshot
from tinytorch.core.layers import Layer
from tinytorch.core.tensor import Tensor


class CallRecorder(Layer):
    """A model that records the shape of every batch it is called on (timings are not observed)."""

    def __init__(self, classes):
        self.classes, self.calls = classes, []

    def forward(self, x):
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        self.calls.append(tuple(data.shape))
        return Tensor(np.tile(np.arange(self.classes, dtype=np.float32), (data.shape[0], 1)))


def snapshot_calls(rng):
    """snapshot's model calls (accuracy batches and batch-1 latency queries) and every value but the latency."""
    n = int(rng.integers(1, 30))
    model = CallRecorder(3)
    shot = snapshot("probe", model, rng.standard_normal((n, 2)).astype(np.float32), rng.integers(0, 3, n),
                    batch_size=int(rng.integers(1, 12)), latency_repeats=int(rng.integers(1, 6)))
    return model.calls, shot.accuracy, shot.model_bytes, shot.parameters, shot.sparsity


def verdicts(rng):
    """meets() for accuracies that are fractions of sample counts, drops near the limit included."""
    samples = int(rng.choice([100, 200, 1000, 10_000, int(rng.integers(1, 5000))]))
    base_correct = int(rng.integers(samples // 2, samples + 1))
    final_correct = base_correct - int(rng.integers(-3, samples // 50 + 3))
    final_correct = min(max(final_correct, 0), samples)
    stages = [Snapshot("baseline", base_correct / samples, 4000, 1000, 0.0, 2.0),
              Snapshot("int8", final_correct / samples, int(rng.choice([1000, 999, 1001, 2000])), 0, 0.0,
                       float(rng.choice([1.0, 0.9, 1.1, 2.0])))]
    report = CapstoneReport(model_name="probe", stages=stages)
    limits = [0.01, 0.0, 0.02, float(rng.choice([0.005, 0.03]))]
    return [report.meets(max_accuracy_drop=limit) for limit in limits]
