"""Milestone 06c: the KV-cache makes generation of 200 tokens at least 5x faster, with identical output.

The GPT of milestone 05 (4 blocks, width 128, 4 heads, 65 characters + unknown) with a context of
256 so that prompt + 200 new tokens fit: past the context window every position moves and the
cache must be refilled each step. Greedy decoding, timed without and with the cache in one run.
The weights are random: the cost of a step does not depend on them. Each way is timed ROUNDS
times, interleaved, and the fastest of each kept: another job on the machine slows some runs, and
the fastest is the one it slowed least.

    python milestones/06_2018_mlperf/kv_cache.py [--quick] [--new-tokens 200]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import parse_args, print_table, require, run_main, save_result  # noqa: E402

args = parse_args(__doc__.splitlines()[0], lambda p: p.add_argument("--new-tokens", type=int, default=200))

import numpy as np  # noqa: E402

from tinytorch.capstone import generation_speed  # noqa: E402
from tinytorch.core.transformer import GPT  # noqa: E402
from tinytorch.perf.memoization import KVCache  # noqa: E402


ROUNDS = 3


def fastest(speeds: list[dict]) -> dict:
    """One generation_speed record from several: the fastest time each way, and its ratio."""
    without = min(s["seconds_without_cache"] for s in speeds)
    with_cache = min(s["seconds_with_cache"] for s in speeds)
    new_tokens = speeds[0]["new_tokens"]
    return {"new_tokens": new_tokens, "rounds": len(speeds), "seconds_without_cache": without,
            "seconds_with_cache": with_cache, "tokens_per_s_without_cache": new_tokens / without,
            "tokens_per_s_with_cache": new_tokens / with_cache, "speedup": without / with_cache,
            "identical_output": all(s["identical_output"] for s in speeds)}


def main() -> None:
    rng = np.random.default_rng(args.seed)
    new_tokens = 100 if args.quick else args.new_tokens
    model = GPT(vocab_size=66, embed_dim=128, num_layers=4, num_heads=4, max_seq_len=256, rng=rng).eval()
    prompt = rng.integers(1, 66, 32)
    model.generate(prompt, 2, greedy=True, use_cache=True)  # warm-up
    speed = fastest([generation_speed(model, prompt, new_tokens) for _ in range(ROUNDS)])
    cache_bytes = KVCache.for_model(model, batch_size=1).nbytes
    result = {"model": "GPT 4x128, 4 heads, context 256", "prompt_tokens": len(prompt), **speed,
              "cache_bytes": cache_bytes}
    save_result("06_kv_cache", args, result)
    print_table("KV-cache", [
        ("new tokens", f"{new_tokens} (fastest of {ROUNDS} runs each way)"),
        ("without cache", f"{speed['seconds_without_cache']:.2f} s ({speed['tokens_per_s_without_cache']:.1f} tokens/s)"),
        ("with cache", f"{speed['seconds_with_cache']:.2f} s ({speed['tokens_per_s_with_cache']:.1f} tokens/s)"),
        ("speedup", f"{speed['speedup']:.1f}x"), ("identical output", str(speed["identical_output"])),
        ("cache memory", f"{cache_bytes / 1e6:.2f} MB"),
    ])
    require(speed["identical_output"], "cached and uncached generation differ")
    require(speed["speedup"] >= (2.0 if args.quick else 5.0), f"speedup only {speed['speedup']:.1f}x")


if __name__ == "__main__":
    run_main(main)
