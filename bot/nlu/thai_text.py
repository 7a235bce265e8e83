"""Thai text normalisation and word segmentation, on pythainlp's own APIs.

Kept free of Rasa so the same functions serve the tokenizer component, the lexicon
matcher and the tools.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import lru_cache

# Nothing may download at run time: pythainlp must use what its package ships.
os.environ.setdefault("PYTHAINLP_OFFLINE", "1")

from pythainlp.corpus import thai_words
from pythainlp.tokenize import Trie, word_tokenize
from pythainlp.util import dict_trie, normalize, thai_digit_to_arabic_digit

# pythainlp's normalize() collapses repeated vowels and tone marks; people also
# stretch final consonants and Latin letters ("ดีจ้าาา", "ได้ม๊ากกก", "helloooo").
_STRETCH = re.compile(r"([\u0e01-\u0e2e\u0e40-\u0e44a-zA-Z])\1{2,}")
_SPACES = re.compile(r"\s+")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)


def normalise(text: str) -> str:
    """Return the canonical form of a citizen's message: the form every component sees."""
    text = text.translate(_ZERO_WIDTH)
    text = normalize(text)
    text = thai_digit_to_arabic_digit(text)
    text = _STRETCH.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip().lower()


@lru_cache(maxsize=8)
def _trie(extra_words: frozenset[str]) -> Trie:
    return dict_trie(dict_source=thai_words() | extra_words)


def make_dictionary(extra_words: Iterable[str]) -> frozenset[str]:
    """The project's words (service names, abbreviations) that segmentation must keep whole."""
    return frozenset(normalise(w) for w in extra_words if w.strip())


def tokenize(text: str, dictionary: frozenset[str] = frozenset(), engine: str = "newmm") -> list[str]:
    """Segment already normalised text into words, dropping the whitespace tokens newmm emits."""
    words = word_tokenize(text, custom_dict=_trie(dictionary), engine=engine, keep_whitespace=False)
    return [w for w in words if w.strip()]


def tokenize_keeping_spaces(text: str, dictionary: frozenset[str] = frozenset()) -> list[str]:
    """newmm's words of already normalised text, whitespace kept, so offsets add up."""
    return word_tokenize(text, custom_dict=_trie(dictionary), engine="newmm", keep_whitespace=True)
