"""Module 03: layers, the building blocks of networks, and the Layer base that tracks parameters.

``Layer`` (alias ``Module``, PyTorch's name) finds parameters by walking its attributes,
so a network built from layers knows all its weights without any registration code.

Systems point: a Linear(in, out) layer stores in·out + out parameters (4 bytes each in
float32) and costs 2·N·in·out FLOPs for a batch of N; the batch matmul is where nearly
all of an MLP's time goes.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import Tensor


class Layer:
    """Base class of everything with parameters: subclasses set attributes and write ``forward``."""

    training: bool = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def named_parameters(self, prefix: str = "") -> list[tuple[str, Tensor]]:
        """(name, tensor) for every trainable tensor reachable through attributes, in attribute order.

        Walks Tensors with requires_grad, Layers, and lists/tuples of them; a tensor shared by
        two layers is listed once.
        """
        #% solution hint="Walk vars(self): Tensors with requires_grad are parameters, Layers recurse, lists/tuples are walked item by item; skip ids already seen."
        found: list[tuple[str, Tensor]] = []
        seen: set[int] = set()

        def visit(name: str, value) -> None:
            if isinstance(value, Tensor):
                if value.requires_grad and id(value) not in seen:
                    seen.add(id(value))
                    found.append((name, value))
            elif isinstance(value, Layer):
                for child_name, child in value.named_parameters(prefix=f"{name}."):
                    visit(child_name, child)
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    visit(f"{name}.{i}", item)

        for attribute, value in vars(self).items():
            visit(prefix + attribute, value)
        return found
        #% endsolution

    def parameters(self) -> list[Tensor]:
        """Every trainable tensor of this layer and its sub-layers, each once."""
        return [tensor for _, tensor in self.named_parameters()]

    def children(self) -> list[Layer]:
        """Direct sub-layers, including those held in lists."""
        found = []
        for value in vars(self).values():
            items = value if isinstance(value, (list, tuple)) else [value]
            found.extend(item for item in items if isinstance(item, Layer))
        return found

    def train(self, mode: bool = True) -> Layer:
        """Switch this layer and every sub-layer to training (or, with False, evaluation) mode."""
        #% solution hint="Set self.training, then call train(mode) on every child."
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self
        #% endsolution

    def eval(self) -> Layer:
        return self.train(False)

    def zero_grad(self) -> None:
        for parameter in self.parameters():
            parameter.grad = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


Module = Layer  # PyTorch's name for the same idea


class Linear(Layer):
    """y = x @ W + b.

    Args:
        in_features, out_features: sizes of the input and output features.
        bias: whether to add a learned bias.
        rng: a NumPy Generator, for reproducible initialisation.
        init: "xavier" (std sqrt(1/in), suits tanh/sigmoid) or "he" (std sqrt(2/in), suits ReLU).

    Shapes: x (..., in_features) -> (..., out_features); W is (in_features, out_features)
    as in the published course (PyTorch stores the transpose), so forward needs no transpose.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 rng: np.random.Generator | None = None, init: str = "xavier"):
        self.in_features, self.out_features = in_features, out_features
        rng = rng if rng is not None else np.random.default_rng()
        #% solution hint="Refuse an unknown init; std = sqrt(1/in) for xavier, sqrt(2/in) for he; draw float32 normals of shape (in, out); bias starts at zero."
        if init not in ("xavier", "he"):
            raise ValueError(f"init must be 'xavier' or 'he', got {init!r}")
        std = np.sqrt((1.0 if init == "xavier" else 2.0) / in_features)
        weight = rng.standard_normal((in_features, out_features), dtype=np.float32) * np.float32(std)
        self.weight = Tensor(weight, requires_grad=True)
        self.bias = Tensor(np.zeros(out_features, dtype=np.float32), requires_grad=True) if bias else None
        #% endsolution

    def forward(self, x: Tensor) -> Tensor:
        #% solution hint="A matmul with the weight, then add the bias if there is one (broadcasting adds it to every row)."
        out = x @ self.weight
        return out + self.bias if self.bias is not None else out
        #% endsolution

    def __repr__(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None})"


class Dropout(Layer):
    """Inverted dropout: in training, zero each element with probability p and scale the rest by 1/(1-p).

    The scaling keeps the expected activation unchanged, so evaluation (identity) needs no correction.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None):
        #% solution hint="p must be in [0, 1): raise ValueError naming p otherwise."
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        #% endsolution
        self.p = p
        self.rng = rng if rng is not None else np.random.default_rng()

    def forward(self, x: Tensor) -> Tensor:
        #% solution hint="Identity in eval mode or for p == 0; else mask = (uniform >= p) / (1 - p) in the input's dtype, and multiply x by Tensor(mask) so autograd sees it."
        if not self.training or self.p == 0.0:
            return x
        keep = self.rng.random(x.shape) >= self.p
        mask = keep.astype(x.dtype) / x.dtype.type(1.0 - self.p)
        return x * Tensor(mask)
        #% endsolution

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


class Sequential(Layer):
    """Apply layers in order: Sequential(Linear(4, 8), ReLU(), Linear(8, 2))."""

    def __init__(self, *layers):
        self.layers = list(layers)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, index: int):
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"
