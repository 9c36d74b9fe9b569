"""Randomized properties that confirm module 10's equivalent marks (docs/DESIGN.md section 10).

Each function draws its own corpus and settings from ``rng`` and returns what a test could
observe; make validate compares the reference's and the mutant's observations exactly.
"""

from tinytorch.core.tokenization import BPETokenizer


def _corpus(rng) -> str:
    """Words over a small alphabet, some repeated often, so merges, ties and count drops all occur."""
    alphabet = "abcde"[: int(rng.integers(2, 6))]
    stock = ["".join(rng.choice(list(alphabet), size=int(rng.integers(1, 7)))) for _ in range(int(rng.integers(3, 12)))]
    words = [stock[int(i)] for i in rng.integers(0, len(stock), size=int(rng.integers(5, 80)))]
    return " ".join(words)


def bpe_training_and_encoding(rng):
    """Train on a random corpus to a random target size; the merges, vocabulary and encodings."""
    corpus = _corpus(rng)
    tokenizer = BPETokenizer(vocab_size=int(rng.integers(4, 60))).train(corpus)
    probe = _corpus(rng) + " " + corpus[: int(rng.integers(0, len(corpus) + 1))]
    ids = tokenizer.encode(probe)
    return tokenizer.merges, tokenizer.id_to_token, ids, tokenizer.decode(ids)
