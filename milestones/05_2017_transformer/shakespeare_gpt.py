"""Milestone 05b: a character-level GPT trained on Tiny Shakespeare writes Shakespeare-like text.

4 transformer blocks of width 128 with 4 heads, context 64 characters, batch 64, trained with AdamW
(warm-up then cosine decay) on the first 90% of the text; the loss is measured on the last 10%.
Trains on module 18's accelerated path (`accelerate(model)`), or on module 13's layers with --plain.
Target: validation loss <= 1.7 nats per character within 30 minutes on a 2-core machine.

    python milestones/05_2017_transformer/shakespeare_gpt.py [--steps 4000] [--quick]
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import (Progress, blas_limit, data_hash, fast_model, parse_args, print_table, require, run_main,  # noqa: E402
                    save_result)


def options(parser):
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--minutes", type=float, default=30.0, help="stop training after this many minutes")


args = parse_args(__doc__.splitlines()[0], options)

import numpy as np  # noqa: E402

from tinytorch.core.autograd import no_grad  # noqa: E402
from tinytorch.core.dataloader import data_root  # noqa: E402
from tinytorch.core.losses import CrossEntropyLoss  # noqa: E402
from tinytorch.core.optimizers import AdamW  # noqa: E402
from tinytorch.core.tokenization import CharTokenizer  # noqa: E402
from tinytorch.core.training import OneCycleLR, clip_grad_norm  # noqa: E402
from tinytorch.core.transformer import GPT  # noqa: E402

CONTEXT, BATCH, WIDTH, LAYERS, HEADS = 64, 64, 128, 4, 4


def load_text() -> str:
    path = data_root(args.data) / "tinyshakespeare.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `make data`, or pass --data pointing at a folder with tinyshakespeare.txt")
    return path.read_text(encoding="utf-8")


def batches(data: np.ndarray, rng: np.random.Generator, size: int):
    starts = rng.integers(0, len(data) - CONTEXT - 1, size=size)
    window = starts[:, None] + np.arange(CONTEXT + 1)
    chunk = data[window]
    return chunk[:, :-1], chunk[:, 1:]


def evaluate(model, data: np.ndarray, batches_count: int) -> float:
    rng = np.random.default_rng(1234)
    losses = []
    with no_grad():
        model.eval()
        for _ in range(batches_count):
            x, y = batches(data, rng, BATCH)
            losses.append(CrossEntropyLoss()(model(x).reshape(-1, model.vocab_size), y.reshape(-1)).item())
        model.train()
    return float(np.mean(losses))


def train_gpt(model, tokenizer, train, val, steps: int, rng: np.random.Generator):
    """AdamW with a one-cycle schedule for ``steps`` steps or ``--minutes``; the curves on the way."""
    optimizer = AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    schedule = OneCycleLR(3e-3, total_steps=steps, pct_start=0.05, optimizer=optimizer)
    loss_fn = CrossEntropyLoss()
    curve, train_curve, started = [], [], time.perf_counter()
    bar = Progress(steps, "gpt", every=100)
    for step in range(1, steps + 1):
        x, y = batches(train, rng, BATCH)
        optimizer.zero_grad()
        loss = loss_fn(model(x).reshape(-1, tokenizer.vocab_size), y.reshape(-1))
        loss.backward()
        clip_grad_norm(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        train_curve.append(loss.item())
        bar.update(f"loss {loss.item():.3f}")
        if step % 250 == 0 or step == steps:
            curve.append((step, evaluate(model, val, 5 if args.quick else 20)))
            print(f"step {step}: validation loss {curve[-1][1]:.3f}, {time.perf_counter() - started:.0f} s", flush=True)
        if time.perf_counter() - started > 60 * args.minutes:
            print(f"stopping at step {step}: the {args.minutes:g}-minute budget is spent", flush=True)
            break
    bar.close()
    train_seconds = time.perf_counter() - started
    return step, train_seconds, curve, train_curve


def main() -> None:
    rng = np.random.default_rng(args.seed)
    text = load_text()
    tokenizer = CharTokenizer().build_vocab(text)
    data = np.array(tokenizer.encode(text), dtype=np.int64)
    split = int(0.9 * len(data))
    train, val = data[:split], data[split:]
    steps = 80 if args.quick else args.steps
    model = fast_model(GPT(tokenizer.vocab_size, WIDTH, LAYERS, HEADS, max_seq_len=CONTEXT, rng=rng), args)
    with blas_limit(args):
        step, train_seconds, curve, train_curve = train_gpt(model, tokenizer, train, val, steps, rng)
        val_loss = evaluate(model, val, 10 if args.quick else 50)
        prompt = np.array(tokenizer.encode("ROMEO:\n"))
        sample = tokenizer.decode(model.generate(prompt, max_new_tokens=60 if args.quick else 400, temperature=0.8,
                                                 top_k=20, rng=np.random.default_rng(args.seed)))
    print("\n--- sample ---\n" + sample + "\n--------------")
    result = {"validation_loss": val_loss, "steps": step, "tokens_seen": step * BATCH * CONTEXT,
              "train_wall_time_s": round(train_seconds, 1), "tokens_per_second": round(step * BATCH * CONTEXT / train_seconds),
              "model": {"layers": LAYERS, "width": WIDTH, "heads": HEADS, "context": CONTEXT,
                        "parameters": int(sum(p.size for p in model.parameters()))},
              "sample": sample, "data_sha256": data_hash(data), "validation_curve": curve}
    save_result("05_shakespeare_gpt", args, result, {"train loss": train_curve[::25]}, x_label="step (every 25th shown)")
    print_table("Character GPT on Tiny Shakespeare", [("validation loss (nats/char)", f"{val_loss:.3f}"),
                                                       ("steps", str(step)), ("train time", f"{train_seconds:.0f} s"),
                                                       ("tokens/s", f"{result['tokens_per_second']}")])
    require(val_loss <= (3.3 if args.quick else 1.7), f"validation loss {val_loss:.3f} is above the target")


if __name__ == "__main__":
    run_main(main)
