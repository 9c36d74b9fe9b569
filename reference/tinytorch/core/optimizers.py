"""Module 06: optimizers turn gradients into parameter updates. Sorted by increasing complexity.

The base class owns the loop (every parameter that has a gradient) and the state that
checkpoints save; each optimizer only writes the update of one parameter.

Systems point: optimizer state is memory. SGD with momentum keeps one extra array per
parameter, Adam two, so training a model with Adam needs about 4x the parameter memory
(weights, gradients, two moments) before counting activations.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import Tensor


class Optimizer:
    """Updates ``params`` in place from their ``.grad``; subclasses implement ``update``."""

    def __init__(self, params, lr: float):
        params = list(params)
        #% solution hint="Refuse (ValueError) an empty list, a parameter that is not a Tensor with requires_grad, and a negative lr."
        if not params:
            raise ValueError("the optimizer got an empty parameter list; pass model.parameters()")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise ValueError(f"parameter {i} does not require grad; only trainable tensors can be optimized")
        if lr < 0:
            raise ValueError(f"learning rate must be >= 0, got {lr}")
        #% endsolution
        self.params = params
        self.lr = lr
        self.step_count = 0
        self.state: list[dict[str, np.ndarray]] = [{} for _ in params]

    def zero_grad(self) -> None:
        """Forget the gradients of the last backward pass (they accumulate otherwise)."""
        #% solution
        for p in self.params:
            p.grad = None
        #% endsolution

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        #% solution hint="Count the step first (Adam's bias correction reads it), then call self.update for each parameter whose grad is not None."
        self.step_count += 1
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                self.update(p, p.grad.data, state)
        #% endsolution

    def update(self, p: Tensor, grad: np.ndarray, state: dict) -> None:
        raise NotImplementedError

    def hyperparameters(self) -> dict:
        return {"lr": self.lr}

    def state_dict(self) -> dict:
        """Hyperparameters, step count and per-parameter state arrays (copies), for checkpoints."""
        return {
            "hyperparameters": self.hyperparameters(),
            "step_count": self.step_count,
            "state": [{key: value.copy() for key, value in s.items()} for s in self.state],
        }

    def load_state_dict(self, state_dict: dict) -> None:
        if len(state_dict["state"]) != len(self.params):
            raise ValueError(f"the state holds {len(state_dict['state'])} parameters, this optimizer has {len(self.params)}")
        for key, value in state_dict["hyperparameters"].items():
            setattr(self, key, tuple(value) if isinstance(value, (list, np.ndarray)) else value)
        self.step_count = int(state_dict["step_count"])
        self.state = [{key: np.array(value, copy=True) for key, value in s.items()} for s in state_dict["state"]]

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({options})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and L2 weight decay (PyTorch semantics).

    g = grad + wd * p;  v = momentum * v + g;  p -= lr * (g + momentum * v if nesterov else v)
    """

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False):
        super().__init__(params, lr)
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.momentum, self.weight_decay, self.nesterov = momentum, weight_decay, nesterov

    def hyperparameters(self) -> dict:
        return {"lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay, "nesterov": self.nesterov}

    def update(self, p: Tensor, grad: np.ndarray, state: dict) -> None:
        #% solution kind="in-place" hint="Add weight_decay * p to the gradient; with momentum keep state['velocity'] (starting as a copy of g); update p.data in place with -=."
        if self.weight_decay:
            grad = grad + self.weight_decay * p.data
        if self.momentum:
            if "velocity" not in state:
                state["velocity"] = grad.copy()
            else:
                state["velocity"] *= self.momentum
                state["velocity"] += grad
            velocity = state["velocity"]
            grad = grad + self.momentum * velocity if self.nesterov else velocity
        p.data -= self.lr * grad
        #% endsolution


class Adam(Optimizer):
    """Adam: per-parameter steps from running means of the gradient and its square, bias-corrected.

    m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= lr * m_hat / (sqrt(v_hat) + eps)
    with m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t). weight_decay adds L2 to the gradient.
    """

    def __init__(self, params, lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.betas, self.eps, self.weight_decay = tuple(betas), eps, weight_decay

    def hyperparameters(self) -> dict:
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": self.weight_decay}

    def update(self, p: Tensor, grad: np.ndarray, state: dict) -> None:
        if self.weight_decay:
            grad = grad + self.weight_decay * p.data
        self.adam_step(p, grad, state)

    def adam_step(self, p: Tensor, grad: np.ndarray, state: dict) -> None:
        """The Adam update of p from grad, shared by Adam and AdamW."""
        #% solution kind="in-place" hint="Keep state['m'] and state['v'] (zeros at first); bias-correct with self.step_count; update p.data in place."
        beta1, beta2 = self.betas
        if "m" not in state:
            state["m"] = np.zeros_like(p.data)
            state["v"] = np.zeros_like(p.data)
        m, v = state["m"], state["v"]
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad * grad
        m_hat = m / (1 - beta1 ** self.step_count)
        v_hat = v / (1 - beta2 ** self.step_count)
        p.data -= (self.lr * m_hat / (np.sqrt(v_hat) + self.eps)).astype(p.dtype, copy=False)
        #% endsolution


class AdamW(Adam):
    """Adam with decoupled weight decay: p -= lr * wd * p, separate from the adaptive step.

    Unlike L2 in Adam, the decay is not rescaled by the gradient statistics (Loshchilov & Hutter).
    """

    def __init__(self, params, lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01):
        super().__init__(params, lr, betas, eps, weight_decay)

    def update(self, p: Tensor, grad: np.ndarray, state: dict) -> None:
        #% solution kind="in-place" hint="Shrink p.data by (1 - lr * weight_decay) first, then take a plain Adam step with the raw gradient."
        if self.weight_decay:
            p.data *= 1 - self.lr * self.weight_decay
        self.adam_step(p, grad, state)
        #% endsolution
