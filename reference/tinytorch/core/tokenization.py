"""Module 10: tokenization, turning text into the integer ids a model reads.

Two tokenizers with the same interface (``encode(text) -> list[int]``, ``decode(ids) -> str``):

- ``CharTokenizer``: one id per character. Tiny vocabulary, long sequences.
- ``BPETokenizer``: byte-pair encoding. Start from characters and repeatedly merge the most
  frequent adjacent pair into a new token. A larger vocabulary buys shorter sequences, and
  attention's cost grows with the square of the sequence length.

Systems point: BPE training counts pairs over the *distinct words* of the corpus, each weighted by
its frequency, and after a merge updates only the words that contain the merged pair; rescanning the
whole corpus for every merge would make 500 merges on 1 MB of text take minutes instead of seconds.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

UNK = "<unk>"
_WORDS = re.compile(r" ?\w+| ?[^\w\s]+|\s+")


class Tokenizer:
    """Interface: encode text to ids and decode ids to text."""

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids) -> str:
        raise NotImplementedError

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError


class CharTokenizer(Tokenizer):
    """One id per character; id 0 is the unknown token for characters not seen in the corpus."""

    def __init__(self, vocab: list[str] | None = None):
        self.id_to_char: list[str] = [UNK]
        self.char_to_id: dict[str, int] = {UNK: 0}
        if vocab:
            self.build_vocab("".join(vocab))

    @property
    def unk_id(self) -> int:
        return 0

    @property
    def vocab_size(self) -> int:
        return len(self.id_to_char)

    def build_vocab(self, corpus: str) -> CharTokenizer:
        """Add every distinct character of the corpus, in sorted order (so the ids are reproducible)."""
        #% solution hint="sorted(set(corpus)); append the characters not yet known to id_to_char and char_to_id."
        for char in sorted(set(corpus)):
            if char not in self.char_to_id:
                self.char_to_id[char] = len(self.id_to_char)
                self.id_to_char.append(char)
        return self
        #% endsolution

    def encode(self, text: str) -> list[int]:
        #% solution
        return [self.char_to_id.get(char, self.unk_id) for char in text]
        #% endsolution

    def decode(self, ids) -> str:
        #% solution hint="Ids may arrive as a NumPy array: convert each with int(); skip the unknown token."
        return "".join(self.id_to_char[int(i)] for i in ids if int(i) != self.unk_id)
        #% endsolution


class BPETokenizer(Tokenizer):
    """Byte-pair encoding over characters, with special tokens.

    Args:
        vocab_size: the target vocabulary: the corpus's characters, the special tokens, one per merge.
        special_tokens: strings kept whole (never split or merged), e.g. "<eos>".
    """

    def __init__(self, vocab_size: int = 1000, special_tokens: tuple[str, ...] = ("<unk>", "<eos>")):
        self.target_vocab_size = vocab_size
        self.special_tokens = tuple(special_tokens)
        self.merges: list[tuple[str, str]] = []
        self.id_to_token: list[str] = list(self.special_tokens)
        self.token_to_id: dict[str, int] = {t: i for i, t in enumerate(self.id_to_token)}

    @property
    def vocab_size(self) -> int:
        return len(self.id_to_token)

    def _add(self, token: str) -> None:
        if token not in self.token_to_id:
            self.token_to_id[token] = len(self.id_to_token)
            self.id_to_token.append(token)

    def train(self, corpus: str, vocab_size: int | None = None) -> BPETokenizer:
        """Learn merges until the vocabulary reaches vocab_size (or no pair repeats)."""
        target = vocab_size or self.target_vocab_size
        words = Counter(_WORDS.findall(corpus))
        for char in sorted(set(corpus)):
            self._add(char)
        #% solution hint="Keep each distinct word as a list of symbols; count pairs weighted by word frequency; merge the most frequent pair (ties: the smallest pair), record it, and update counts only for words that contain it."
        symbols = {word: list(word) for word in words}
        pair_counts: Counter = Counter()
        where: dict[tuple[str, str], set[str]] = defaultdict(set)
        for word, count in words.items():
            for pair in zip(symbols[word], symbols[word][1:]):
                pair_counts[pair] += count
                where[pair].add(word)
        while self.vocab_size < target and pair_counts:
            best = max(pair_counts.items(), key=lambda item: (item[1], _negate(item[0])))
            if best[1] < 2:
                break
            pair = best[0]
            self.merges.append(pair)
            self._add(pair[0] + pair[1])
            for word in list(where.pop(pair, ())):
                old = symbols[word]
                new = _merge_symbols(old, pair)
                for p in zip(old, old[1:]):
                    pair_counts[p] -= words[word]
                    if pair_counts[p] <= 0:
                        del pair_counts[p]
                for p in zip(new, new[1:]):
                    pair_counts[p] += words[word]
                    where[p].add(word)
                symbols[word] = new
        #% endsolution
        return self

    def encode(self, text: str) -> list[int]:
        """Split off special tokens, apply the merges in learned order to each word, map to ids."""
        ids: list[int] = []
        for piece in self._split_specials(text):
            if piece in self.special_tokens:
                ids.append(self.token_to_id[piece])
                continue
            for word in _WORDS.findall(piece):
                ids.extend(self.token_to_id.get(symbol, 0) for symbol in self._apply_merges(word))
        return ids

    def _apply_merges(self, word: str) -> list[str]:
        #% solution hint="Start from the characters; apply each learned merge, in the order learned, everywhere it occurs."
        symbols = list(word)
        for pair in self.merges:
            if len(symbols) < 2:
                break
            symbols = _merge_symbols(symbols, pair)
        return symbols
        #% endsolution

    def decode(self, ids) -> str:
        #% solution
        return "".join(self.id_to_token[int(i)] for i in ids if self.id_to_token[int(i)] != UNK)
        #% endsolution

    def _split_specials(self, text: str) -> list[str]:
        if not self.special_tokens:
            return [text]
        pattern = "(" + "|".join(re.escape(t) for t in self.special_tokens) + ")"
        return [piece for piece in re.split(pattern, text) if piece]

    def save(self, path) -> None:
        """Write the tokenizer as JSON: special tokens, vocabulary in id order, merges in order."""
        data = {"special_tokens": list(self.special_tokens), "vocab": self.id_to_token,
                "merges": [list(pair) for pair in self.merges], "target_vocab_size": self.target_vocab_size}
        Path(path).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path) -> BPETokenizer:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        tokenizer = cls(data["target_vocab_size"], tuple(data["special_tokens"]))
        tokenizer.id_to_token = list(data["vocab"])
        tokenizer.token_to_id = {t: i for i, t in enumerate(tokenizer.id_to_token)}
        tokenizer.merges = [tuple(pair) for pair in data["merges"]]
        return tokenizer


def _merge_symbols(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    """Replace every adjacent occurrence of pair (left to right, no overlaps) by the merged symbol."""
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == pair[0] and symbols[i + 1] == pair[1]:
            out.append(pair[0] + pair[1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def _negate(pair: tuple[str, str]) -> tuple:
    """Sort key so that, among equally frequent pairs, the lexicographically smallest wins."""
    return tuple(-ord(c) for c in pair[0] + "\0" + pair[1])
