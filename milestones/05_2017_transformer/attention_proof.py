"""Milestone 05a: attention learns to reverse a sequence (a task a position-blind model cannot do).

Random sequences of 8 digits; the model must output them reversed. Each output position has to
find the right input position through attention (queries from positions, keys from positions).
Target: ~100% token accuracy on fresh sequences.

    python milestones/05_2017_transformer/attention_proof.py [--quick]
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import Progress, parse_args, print_table, require, run_main, save_result  # noqa: E402

args = parse_args(__doc__.splitlines()[0])

import numpy as np  # noqa: E402

from tinytorch.core.attention import MultiHeadAttention  # noqa: E402
from tinytorch.core.autograd import no_grad  # noqa: E402
from tinytorch.core.embeddings import Embedding, PositionalEncoding  # noqa: E402
from tinytorch.core.layers import Layer, Linear  # noqa: E402
from tinytorch.core.losses import CrossEntropyLoss  # noqa: E402
from tinytorch.core.optimizers import Adam  # noqa: E402
from tinytorch.core.transformer import MLP, LayerNorm  # noqa: E402

VOCAB, LENGTH, WIDTH = 10, 8, 32


class Reverser(Layer):
    """Embed, two rounds of (attention + MLP) with residuals, read out a digit per position."""

    def __init__(self, rng):
        self.embed = Embedding(VOCAB, WIDTH, rng=rng)
        self.positions = PositionalEncoding(LENGTH, WIDTH, rng=rng)
        self.layers = [(LayerNorm(WIDTH), MultiHeadAttention(WIDTH, 4, rng=rng), LayerNorm(WIDTH), MLP(WIDTH, rng=rng))
                       for _ in range(2)]
        self.head = Linear(WIDTH, VOCAB, rng=rng)

    def forward(self, tokens):
        x = self.positions(self.embed(tokens))
        for norm1, attention, norm2, mlp in self.layers:
            x = x + attention(norm1(x))
            x = x + mlp(norm2(x))
        return self.head(x)


def batch(rng, size):
    x = rng.integers(0, VOCAB, size=(size, LENGTH))
    return x, x[:, ::-1].copy()


def main() -> None:
    rng = np.random.default_rng(args.seed)
    model = Reverser(rng)
    optimizer = Adam(model.parameters(), lr=3e-3)
    steps = 150 if args.quick else 600
    losses, started = [], time.perf_counter()
    bar = Progress(steps, "reversal")
    for _ in range(steps):
        x, y = batch(rng, 64)
        optimizer.zero_grad()
        loss = CrossEntropyLoss()(model(x).reshape(-1, VOCAB), y.reshape(-1))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        bar.update(f"loss {losses[-1]:.3f}")
    bar.close()
    x, y = batch(np.random.default_rng(args.seed + 1), 1000)
    with no_grad():
        predictions = model(x).data.argmax(-1)
    token_accuracy = float((predictions == y).mean())
    sequence_accuracy = float((predictions == y).all(axis=1).mean())
    result = {"token_accuracy": token_accuracy, "sequence_accuracy": sequence_accuracy, "steps": steps,
              "wall_time_s": round(time.perf_counter() - started, 1)}
    save_result("05_attention_reversal", args, result, {"train loss": losses[::10]}, x_label="step (every 10th shown)")
    print_table("Attention learns to reverse", [("token accuracy", f"{token_accuracy:.2%}"),
                                                ("whole sequences right", f"{sequence_accuracy:.2%}")])
    require(token_accuracy >= (0.8 if args.quick else 0.99), f"token accuracy {token_accuracy:.2%} is below the target")


if __name__ == "__main__":
    run_main(main)
