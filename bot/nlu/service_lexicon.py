"""The catalog's names of each service, found in a message with spaCy's PhraseMatcher.

The names come from the `service:<id>` lookup tables that ``catalog/lexicon.py``
writes from the catalog. Matching runs over Thai character clusters (pythainlp's
TCC), not words: word segmentation of a compound is ambiguous (ภาษีรถ|เก๋ง or
ภาษี|รถเก๋ง), character clusters are not, and a match never splits a cluster.
Citizens write one abbreviation many ways (ภ.ง.ด.91, ภงด.91, ภงด 91), so dots,
dashes and spaces are removed on both sides first.

Citizens also mistype names: a missing or wrong tone mark, a neighbouring key, a dropped
or swapped final consonant (พาสปอร์ด). A name that is not found exactly is looked for
once more, tolerantly: tone marks ignored on both sides and one edit allowed in a long
name (two in a very long one), with rapidfuzz's alignment and Levenshtein distance.
Short names must match exactly: one edit in a short name makes another word.

A name is a run of clusters, and a short one is found inside longer words (กรอ. in กรอกแบบฟอร์ม
and อีกรอบ); one edit away from a name is often another word cut in half (แจ้งภายใน is not
แจ้งตาย). So a tolerant find, and an exact find of a short name, counts only where it begins
and ends on a word boundary of pythainlp's segmentation of the text (newmm, with the catalog's
names in its dictionary; a tolerant find may also end inside Thai letters that the segmenter
found in no dictionary, where a typo moved its boundary), and a tolerant find that is one word
of pythainlp's dictionary is that word spelt right, not a name typed wrong (แรงงาน is not แต่งงาน).
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import spacy
from pythainlp.corpus import thai_words
from pythainlp.tokenize import tcc
from pythainlp.util import is_thai
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein
from rasa.shared.nlu.training_data.training_data import TrainingData
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc
from spacy.util import filter_spans

from bot.nlu import thai_text

LOOKUP_PREFIX = "service:"
_NOT_COMPACT = re.compile(r"[\s.\-_/()]+")
# Tone marks, mai taikhu and thanthakhat: the marks citizens most often drop or mistype.
_MARKS = re.compile("[\u0e47-\u0e4c]")
# Edits allowed in a name of at least this many letters (marks left out).
FUZZY_EDITS = ((12, 2), (6, 1))
FUZZY_MIN_SCORE = 80.0
# An exact find of a name this short (letters, marks left out) must sit on word boundaries.
SHORT_NAME = 4
# The mention lookup of the lexicons with the same names (by their JSON), newest last; a few, for
# the models a process has loaded (a replaced model's classifiers let go of theirs).
_SHARED_MENTIONS: dict[str, Callable[[str], list[dict[str, Any]]]] = {}
_SHARED_LEXICONS = 4


def compact(text: str) -> str:
    return _NOT_COMPACT.sub("", thai_text.normalise(text))


def skeleton(text: str) -> str:
    """The compact text without tone marks: what a tolerant match compares."""
    return _MARKS.sub("", compact(text))


def skeleton_letters(text: str) -> str:
    """What of a piece of normalised text is left in the skeleton (no spaces, dots or marks)."""
    return _MARKS.sub("", _NOT_COMPACT.sub("", text))


def allowed_edits(name: str) -> int:
    return next((edits for length, edits in FUZZY_EDITS if len(name) >= length), 0)


class ServiceLexicon:
    def __init__(self, names: dict[str, list[str]], cache_size: int | None = 64) -> None:
        self.names = names
        self.services = sorted(names)
        self._index = {service: i for i, service in enumerate(self.services)}
        self._vocab = spacy.blank("th").vocab
        self._matcher = PhraseMatcher(self._vocab)
        for service, service_names in names.items():
            patterns = {compact(n): None for n in service_names if len(compact(n)) > 1}
            self._matcher.add(service, [self.doc(p) for p in patterns])
        self._skeletons: dict[str, set[str]] = defaultdict(set)
        for service, service_names in names.items():
            for n in service_names:
                if allowed_edits(skeleton(n)):
                    self._skeletons[skeleton(n)].add(service)
        self._skeleton_list = list(self._skeletons)
        # Written as in the catalog (กยศ.) and as citizens glue it to other words (ขอกยศได้ไหม).
        self._dictionary = thai_text.make_dictionary(
            form for ns in names.values() for n in ns for form in (n, compact(n))
        )
        # The classifiers of one turn ask about the same text several times in a row, and each
        # (intent and service, before and after e5) holds a lexicon of its own with the same names:
        # they share one cache, so a message is looked up once, not once per classifier. Training
        # (`cache_size` None) keeps every example's: four classifiers read them all. The size is in
        # the key, so that a model loaded to serve never inherits a training cache with no bound.
        key = json.dumps([cache_size, names], ensure_ascii=False)
        shared = _SHARED_MENTIONS.pop(key, None) or functools.lru_cache(maxsize=cache_size)(self._mentions)
        _SHARED_MENTIONS[key] = shared
        while len(_SHARED_MENTIONS) > _SHARED_LEXICONS:  # models replaced by newer ones
            del _SHARED_MENTIONS[next(iter(_SHARED_MENTIONS))]
        self.mentions = shared

    @classmethod
    def from_training_data(cls, training_data: TrainingData) -> ServiceLexicon:
        return cls(
            {
                table["name"][len(LOOKUP_PREFIX) :]: list(table["elements"])
                for table in training_data.lookup_tables
                if table["name"].startswith(LOOKUP_PREFIX)
            },
            cache_size=None,
        )

    def doc(self, text: str) -> Doc:
        return Doc(self._vocab, words=tcc.segment(compact(text)))

    def _mentions(self, text: str) -> list[dict[str, Any]]:
        """Services named in the text, in reading order; overlapping names keep the longest."""
        doc = self.doc(text)
        services_at: dict[tuple[int, int], set[str]] = defaultdict(set)
        for match_id, start, end in self._matcher(doc):
            services_at[(start, end)].add(self._vocab.strings[match_id])
        spans = filter_spans([doc[start:end] for start, end in services_at])
        # Exact and tolerant finds compete for the text as spaCy's filter_spans does: the
        # longest wins, an exact one on a tie. Positions are in the skeleton.
        finds = []
        for span in spans:
            start = len(_MARKS.sub("", "".join(t.text for t in doc[: span.start])))
            end = start + len(_MARKS.sub("", "".join(t.text for t in span)))
            services = sorted(services_at[(span.start, span.end)])
            finds.append((start, end, 1, {"text": "".join(t.text for t in span), "services": services}))
        # Segmenting is the dear part: at most once per message, and only when a find needs it.
        words = functools.cache(lambda: self.words(text))
        edges = functools.cache(lambda: {0} | {end for _, end, _ in words()})
        finds = [f for f in finds if f[1] - f[0] > SHORT_NAME or {f[0], f[1]} <= edges()]
        finds += self._near_finds(text, words, edges)
        kept: list[tuple[int, int, int, dict[str, Any]]] = []
        for find in sorted(finds, key=lambda f: (f[0] - f[1], -f[2], f[0])):
            if all(find[1] <= k[0] or find[0] >= k[1] for k in kept):
                kept.append(find)
        return [mention for *_, mention in sorted(kept, key=lambda f: f[0])]

    def words(self, text: str) -> list[tuple[int, int, str]]:
        """The words of the text (newmm), each with where it begins and ends in the skeleton."""
        words, position = [], 0
        for word in thai_text.tokenize_keeping_spaces(thai_text.normalise(text), self._dictionary):
            end = position + len(skeleton_letters(word))
            words.append((position, end, word))
            position = end
        return words

    def _near_finds(
        self,
        text: str,
        words: Callable[[], list[tuple[int, int, str]]],
        edges: Callable[[], set[int]],
    ) -> list[tuple[int, int, int, dict[str, Any]]]:
        """Names found tolerantly: (start, end, 0, mention) in the skeleton of the text.

        rapidfuzz's alignment may stop before a vowel written below or above the last letter
        (อายู aligned as อาย): the find takes it.
        """
        target = skeleton(text)
        finds = []
        for name, _, _ in process.extract(
            target, self._skeleton_list, scorer=fuzz.partial_ratio, score_cutoff=FUZZY_MIN_SCORE, limit=8
        ):
            if len(target) < len(name) - 1:
                continue
            where = fuzz.partial_ratio_alignment(name, target)
            span = self._nearest_span(name, target, where.dest_start, where.dest_end, words(), edges())
            if span is not None and not self._is_other_word(words(), *span):
                start, end = span
                mention = {"text": target[start:end], "services": sorted(self._skeletons[name]), "near": True}
                finds.append((start, end, 0, mention))
        return finds

    def _nearest_span(
        self, name: str, target: str, start: int, end: int, words: list[tuple[int, int, str]], edges: set[int]
    ) -> tuple[int, int] | None:
        """The aligned span, or the span with one more letter at either end, that lies on word
        edges and is nearest to the name within its allowed edits.

        rapidfuzz aligns with insertions and deletions only, so a wrong first or last letter is
        aligned as one left out (เดินทาน as เดินทา, which ends inside the word ทาน): the span
        with that letter back, as long as the name and one letter from it, is the name with that
        letter replaced (and nothing else: a longer name's second edit would turn ตาม|ทะเบียนบ้าน
        into ย้ายทะเบียนบ้าน).
        """
        spans = [(start, end)] + [
            (s, e) for s, e in ((start - 1, end), (start, end + 1))
            if s >= 0 and e <= len(target) and e - s == len(name)
        ]
        best: tuple[int, int, int] | None = None
        for s, e in spans:
            allowed = allowed_edits(name) if (s, e) == (start, end) else 1
            while e < len(target) and unicodedata.category(target[e]) == "Mn":
                e += 1  # a vowel below or above belongs to the letter before it
            distance = Levenshtein.distance(name, target[s:e])
            if (
                distance <= allowed
                and (best is None or distance < best[0])
                and self._on_edges(words, edges, s, e)
            ):
                best = (distance, s, e)
        return None if best is None else (best[1], best[2])

    def _on_edges(self, words: list[tuple[int, int, str]], edges: set[int], start: int, end: int) -> bool:
        """Whether a tolerant find begins and ends where words do. A typo can move the segmenter's
        edge: the letters it could not place are glued to the next word (ต่อใบขับขีรถยนตร์ segmented
        ขีรถ|ยนตร์), so an edge inside a piece of Thai that is no dictionary word counts too. One
        inside a real word does not (แจ้งภาย|ใน is not แจ้งตาย), nor one inside a foreign word."""
        return all(
            position in edges
            or any(s < position < e and self._is_unplaced(w) for s, e, w in words)
            for position in (start, end)
        )

    def _is_unplaced(self, piece: str) -> bool:
        """Thai letters the segmenter found in no dictionary (pieces a typo leaves)."""
        piece = piece.strip()
        return is_thai(piece) and piece not in thai_words() and piece not in self._dictionary

    def _is_other_word(self, words: list[tuple[int, int, str]], start: int, end: int) -> bool:
        """Whether the words from start to end are one word of pythainlp's dictionary that no
        name is: a word spelt right (แรงงาน), not a name typed wrong (แต่งงาน)."""
        inside = [w for s, e, w in words if s >= start and e <= end and w.strip()]
        return len(inside) == 1 and inside[0] in thai_words() and inside[0] not in self._dictionary

    def vector(self, text: str) -> list[float]:
        """One value per service: 1 for a name only it has, 1/n for a name n services share."""
        row = [0.0] * len(self.services)
        for mention in self.mentions(text):
            for service in mention["services"]:
                i = self._index[service]
                row[i] = max(row[i], 1.0 / len(mention["services"]))
        return row
