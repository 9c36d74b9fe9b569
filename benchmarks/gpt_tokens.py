"""Benchmark: training tokens per second of the milestone-05 character GPT, tinytorch vs PyTorch-CPU.

The model of milestones/05_2017_transformer/shakespeare_gpt.py (4 pre-norm blocks, width 128,
4 heads, context 64, vocabulary 65, batch 64), one AdamW step per batch on random tokens.
Runs alternate between the two frameworks and report medians; PyTorch is optional.

    python benchmarks/gpt_tokens.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import AdamW
from tinytorch.core.transformer import GPT

VOCAB, WIDTH, LAYERS, HEADS, CONTEXT, BATCH = 65, 128, 4, 4, 64, 64


def tinytorch_step(rng: np.random.Generator):
    model = GPT(VOCAB, WIDTH, LAYERS, HEADS, max_seq_len=CONTEXT, rng=rng)
    optimizer = AdamW(model.parameters(), lr=1e-3)
    x, y = rng.integers(0, VOCAB, (BATCH, CONTEXT)), rng.integers(0, VOCAB, (BATCH, CONTEXT))

    def step():
        optimizer.zero_grad()
        CrossEntropyLoss()(model(x).reshape(-1, VOCAB), y.reshape(-1)).backward()
        optimizer.step()

    return step


def torch_step(rng: np.random.Generator):
    import torch

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = torch.nn.LayerNorm(WIDTH), torch.nn.LayerNorm(WIDTH)
            self.attention = torch.nn.MultiheadAttention(WIDTH, HEADS, batch_first=True)
            self.mlp = torch.nn.Sequential(torch.nn.Linear(WIDTH, 4 * WIDTH), torch.nn.GELU(approximate="tanh"),
                                           torch.nn.Linear(4 * WIDTH, WIDTH))

        def forward(self, x, mask):
            h = self.ln1(x)
            x = x + self.attention(h, h, h, attn_mask=mask, need_weights=False)[0]
            return x + self.mlp(self.ln2(x))

    class TorchGPT(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.tokens, self.positions = torch.nn.Embedding(VOCAB, WIDTH), torch.nn.Embedding(CONTEXT, WIDTH)
            self.blocks = torch.nn.ModuleList(Block() for _ in range(LAYERS))
            self.ln_f, self.head = torch.nn.LayerNorm(WIDTH), torch.nn.Linear(WIDTH, VOCAB, bias=False)
            self.register_buffer("mask", torch.triu(torch.ones(CONTEXT, CONTEXT, dtype=torch.bool), 1))

        def forward(self, idx):
            x = self.tokens(idx) + self.positions(torch.arange(idx.shape[1]))
            for block in self.blocks:
                x = block(x, self.mask)
            return self.head(self.ln_f(x))

    model = TorchGPT()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.from_numpy(rng.integers(0, VOCAB, (BATCH, CONTEXT)))
    y = torch.from_numpy(rng.integers(0, VOCAB, (BATCH, CONTEXT)))

    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x).reshape(-1, VOCAB), y.reshape(-1)).backward()
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    runners = {"tinytorch": tinytorch_step(rng)}
    try:
        import torch

        runners[f"PyTorch {torch.__version__} CPU"] = torch_step(rng)
    except ImportError:
        pass
    times = {name: [] for name in runners}
    for step in runners.values():
        step()  # warm-up
    for _ in range(args.repeats):
        for name, step in runners.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    tokens = BATCH * CONTEXT
    print(f"character GPT ({LAYERS} layers, width {WIDTH}, context {CONTEXT}, batch {BATCH}): training tokens per second")
    rates = {name: tokens / float(np.median(t)) for name, t in times.items()}
    for name, rate in rates.items():
        print(f"  {name:24} {rate:10.0f} tokens/s  ({1000 * tokens / rate:.0f} ms per step)")
    if len(rates) == 2:
        ours, theirs = rates.values()
        print(f"  ratio (PyTorch / tinytorch throughput): {theirs / ours:.2f}x")
    else:
        print("  PyTorch not installed (pip install torch): no ratio")


if __name__ == "__main__":
    main()
