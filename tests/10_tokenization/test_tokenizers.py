"""Module 10: character and BPE tokenizers."""

from tinytorch.core.tokenization import BPETokenizer, CharTokenizer

CORPUS = "low lower lowest low low newer newest new"


def test_char_vocab_holds_each_character_once_plus_unknown():
    tokenizer = CharTokenizer().build_vocab("abca")
    assert tokenizer.vocab_size == 4 and tokenizer.encode("cab") == [3, 1, 2]


def test_char_round_trip():
    tokenizer = CharTokenizer().build_vocab("hello world")
    assert tokenizer.decode(tokenizer.encode("hello world")) == "hello world"


def test_char_unknown_characters_map_to_the_unknown_id():
    tokenizer = CharTokenizer().build_vocab("ab")
    assert tokenizer.encode("abz") == [1, 2, tokenizer.unk_id]


def test_bpe_learns_the_most_frequent_pair_first():
    tokenizer = BPETokenizer(vocab_size=100).train("aaab aaab aaab")
    assert tokenizer.merges[0] == ("a", "a")


def test_bpe_round_trip():
    tokenizer = BPETokenizer(vocab_size=40).train(CORPUS)
    assert tokenizer.decode(tokenizer.encode(CORPUS)) == CORPUS


def test_bpe_shortens_sequences():
    tokenizer = BPETokenizer(vocab_size=40).train(CORPUS)
    assert len(tokenizer.encode(CORPUS)) < len(CORPUS)
