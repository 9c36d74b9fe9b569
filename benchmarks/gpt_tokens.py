"""Benchmark: training tokens per second of the milestone-05 character GPT: modules 12-13, module 18, PyTorch-CPU.

The model of milestones/05_2017_transformer/shakespeare_gpt.py (4 pre-norm blocks, width 128,
4 heads, context 64, vocabulary 65, batch 64), one AdamW step per batch on random tokens, for
module 13's GPT as built, the same GPT after ``accelerate(model, workers=N)`` (module 18: fused
attention with transposed scores, GELU and LayerNorm, every Linear as 2-D GEMMs, the embeddings'
flat scatter; each layer splits its rows over N worker threads, BLAS at one thread each), and
PyTorch CPU when installed (optional). Variants
alternate in one process (rotating order, medians); threads, BLAS kernels and the allocator are chosen on purpose and printed (coursetools.threads
and .allocator, as in cnn_step.py); results go to benchmarks/results/.

    python benchmarks/gpt_tokens.py [--repeats 7] [--threads N] [--workers N] [--return-memory]
    python benchmarks/gpt_tokens.py --profile   # where the accelerated step's time goes, layer by layer
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from coursetools.allocator import add_memory_option, choose_allocator
from coursetools.threads import add_thread_options, choose_threads, kernel_note, load_average, usable_cores
from paired import RESULTS, format_load, profile_step, rounds, with_blas_threads, write_result
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import AdamW
from tinytorch.core.transformer import GPT
from tinytorch.perf.acceleration import accelerate

VOCAB, WIDTH, LAYERS, HEADS, CONTEXT, BATCH = 65, 128, 4, 4, 64, 64


def tinytorch_step(rng: np.random.Generator, workers: int | None):
    """One training step of module 13's GPT, or of its accelerated copy on ``workers`` threads."""
    model = GPT(VOCAB, WIDTH, LAYERS, HEADS, max_seq_len=CONTEXT, rng=rng)
    model = accelerate(model, workers=workers) if workers else model
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
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even when installed")
    parser.add_argument("--out", type=Path, default=RESULTS / "gpt_tokens.json", help="where the JSON result goes")
    parser.add_argument("--profile", action="store_true",
                        help="only profile two accelerated steps (cProfile, by cumulative time: the layers)")
    add_memory_option(parser)
    add_thread_options(parser)
    args = parser.parse_args()
    allocator = choose_allocator(args.return_memory)
    choice = choose_threads(args.threads, args.workers)
    print(choice.describe())
    print(kernel_note())
    print(allocator)
    if args.profile:
        profile_step(tinytorch_step(np.random.default_rng(0), choice.workers), choice, args.repeats, sort="cumtime", top=40)
        return
    load_before = load_average()
    rng = np.random.default_rng(0)
    variants = {"tinytorch, modules 12-13": with_blas_threads(choice, choice.serial_threads, tinytorch_step(rng, None)),
                f"tinytorch, accelerated ({choice.workers} worker(s))": with_blas_threads(
                    choice, choice.blas_threads, tinytorch_step(rng, choice.workers))}
    torch_version = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            torch.set_num_threads(choice.serial_threads)
            torch_version = torch.__version__
            variants[f"PyTorch {torch_version} CPU ({choice.serial_threads} threads)"] = torch_step(rng)
    medians = rounds(variants, args.repeats)
    tokens = BATCH * CONTEXT
    print(f"character GPT ({LAYERS} layers, width {WIDTH}, context {CONTEXT}, batch {BATCH}): training step "
          f"({args.repeats} rounds, medians; load average {format_load(load_before)} before, "
          f"{format_load(load_average())} after on {usable_cores()} cores)")
    names = list(medians)
    reference = medians[names[-1]] if torch_version else None
    lines = []
    for name, ms in medians.items():
        vs_torch = f"  {ms / reference:5.2f}x PyTorch's time" if reference else ""
        lines.append(f"  {name:68} {ms:8.0f} ms/step {1000 * tokens / ms:9.0f} tokens/s{vs_torch}")
    lines.append(f"  accelerated path: {medians[names[0]] / medians[names[1]]:.2f}x faster than modules 12-13")
    if not torch_version:
        lines.append("  PyTorch not installed (pip install torch==2.13.0): no ratio")
    print("\n".join(lines))
    write_result(args.out, "gpt_tokens", choice, load_before, repeats=args.repeats, tokens_per_step=tokens,
                 median_ms=medians, report=lines, torch=torch_version,
                 blas_kernels=kernel_note(), allocator=allocator)


if __name__ == "__main__":
    main()
