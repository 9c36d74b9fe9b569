"""Randomized properties that confirm module 15's equivalent marks (docs/DESIGN.md section 10).

Random shapes (empty ones included), axes, symmetric or not; random Linear and Conv2d layers,
per channel or per tensor, dynamic inputs.
"""

import numpy as np

from tinytorch.core.layers import Linear
from tinytorch.core.spatial import Conv2d
from tinytorch.core.tensor import Tensor
from tinytorch.perf.quantization import QuantizedConv2d, QuantizedLinear, quantize


def quantize_any_array(rng):
    """quantize of random arrays, one in three empty: q, scale and zero point, per tensor."""
    shape = tuple(int(n) for n in rng.integers(0 if rng.random() < 0.33 else 1, 5, size=int(rng.integers(1, 4))))
    x = (rng.standard_normal(shape) * rng.uniform(0.1, 10)).astype(np.float32)
    found = []
    for symmetric in (True, False):
        qt = quantize(x, symmetric=symmetric)
        found.append((qt.q, np.asarray(qt.scale), np.asarray(qt.zero_point)))
    return found


def quantized_layers_forward(rng):
    """QuantizedLinear on 2-D and 3-D inputs and QuantizedConv2d, per channel and per tensor."""
    width, out = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    outputs = []
    for per_channel in (True, False):
        linear = QuantizedLinear.from_float(Linear(width, out, rng=rng), per_channel=per_channel)
        for shape in ((int(rng.integers(1, 4)), width), (2, int(rng.integers(1, 4)), width)):
            outputs.append(linear(Tensor(rng.standard_normal(shape).astype(np.float32))).data)
        conv = QuantizedConv2d.from_float(Conv2d(int(rng.integers(1, 3)), out, 3, padding=1, rng=rng),
                                          per_channel=per_channel)
        x = rng.standard_normal((2, conv.in_channels, 5, 4)).astype(np.float32)
        outputs.append(conv(Tensor(x)).data)
    return outputs
