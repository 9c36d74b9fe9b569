"""Benchmark: seconds to learn 500 BPE merges on Tiny Shakespeare (module 10; the target is under a minute).

    python benchmarks/bpe_train.py [--merges 500]
"""

import argparse
import time

from tinytorch.core.dataloader import data_root
from tinytorch.core.tokenization import BPETokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merges", type=int, default=500)
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    text = (data_root(args.data) / "tinyshakespeare.txt").read_text(encoding="utf-8")
    tokenizer = BPETokenizer()
    target = len(set(text)) + len(tokenizer.special_tokens) + args.merges
    start = time.perf_counter()
    tokenizer.train(text, vocab_size=target)
    seconds = time.perf_counter() - start
    sample = text[:2000]
    print(f"{len(tokenizer.merges)} merges on {len(text):,} characters in {seconds:.1f} s "
          f"(vocabulary {tokenizer.vocab_size}); a 2,000-character sample encodes to {len(tokenizer.encode(sample))} tokens")


if __name__ == "__main__":
    main()
