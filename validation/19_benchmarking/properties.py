"""Randomized properties that confirm module 19's equivalent marks (docs/DESIGN.md section 10)."""

import numpy as np

from tinytorch.bench import Event, EventData, single_query_latency
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


def single_query_calls(rng):
    """The batches single_query_latency feeds the model: how many, and of what shape."""
    queries = int(rng.integers(1, 8))
    spec = Event(name="probe", dataset="mnist", metric="accuracy", floor=0.0, eval_samples=16,
                 batch_size=int(rng.integers(1, 8)), latency_queries=queries)
    data = EventData(rng.standard_normal((int(rng.integers(queries, 12)), 3)).astype(np.float32),
                     rng.integers(0, 4, 12))
    model = CallRecorder(4)
    stats = single_query_latency(model, spec, data)
    return model.calls, sorted(stats)
