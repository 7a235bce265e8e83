"""Does a new example contradict the training data? Checked before any training, in well under a second.

A new example question contradicts the data when the same question, or nearly the same, already
belongs elsewhere: to another service, or to another intent (small talk, out of scope). "The
same" is equal once spacing, punctuation, letter case, Thai digits and polite particles are
ignored (normalise); "nearly" is at least 90 % alike character by character (rapidfuzz's ratio
on the normalised texts). A text that the data already has, normalised, under the example's own
service is no contradiction: the catalog gives some names to two services (ใบขับขี่ names both
the new licence and its renewal), and the data labels both.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from contract.replies import ASK_INTENT
from staff.candidates.trainingdata import Example

NEAR_RATIO = 90.0
# Polite particles and softeners that end a Thai question without changing what it asks.
PARTICLES = (
    "ครับผม", "คร้าบ", "ครับ", "คับ", "ค่ะ", "คะ", "ค่า", "ค้า", "ค๊ะ", "จ้ะ", "จ้า", "จ๊ะ", "จ๋า", "ฮะ", "ฮับ",
    "นะคะ", "นะครับ", "นะ", "น่ะ", "เนอะ", "อ่ะ", "อะ", "ล่ะ", "หน่อย",
)
_PARTICLE_END = re.compile("(?:" + "|".join(sorted(PARTICLES, key=len, reverse=True)) + ")+$")
_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_NUMBER = re.compile(r"\d+")


def _kept(char: str) -> bool:
    # Letters, combining marks (Thai vowels and tone marks, which \w leaves out) and digits.
    return unicodedata.category(char)[0] in "LMN"


def normalise(text: str) -> str:
    """The question as compared: no spacing, punctuation, case or particles at a clause's end."""
    text = unicodedata.normalize("NFC", text).lower().translate(_THAI_DIGITS)
    # Particles end a clause: strip them where a chunk ends (before a space, a mark or the end).
    chunks = re.split(r"[\s!?.,;:()\"'“”‘’…~/\-]+", text)
    return "".join(c for c in "".join(_PARTICLE_END.sub("", chunk) for chunk in chunks) if _kept(c))


def label_of(example: Example) -> str | None:
    """What an example belongs to: its service for a question about one, else its intent.

    None for a question about a service that carries no service label (an FAQ variant that names
    no service teaches the intent and the topic only): it belongs to no service.
    """
    return example.service if example.intent == ASK_INTENT else example.intent


def same_numbers(a: str, b: str) -> bool:
    """Whether two texts have the same numbers, which name different things (sections, ages)."""
    return _NUMBER.findall(a.translate(_THAI_DIGITS)) == _NUMBER.findall(b.translate(_THAI_DIGITS))


@dataclass(frozen=True)
class NewExample:
    text: str
    service_id: str
    topic: str


def find_conflicts(new: Iterable[NewExample], existing: Iterable[Example]) -> list[dict[str, object]]:
    """One entry per new text and label it clashes with: the closest example of that label."""
    existing = [e for e in existing if e.text and label_of(e) is not None]
    norms = [normalise(e.text) for e in existing]
    own_labels: dict[str, set[str]] = {}
    for example, norm in zip(existing, norms, strict=True):
        own_labels.setdefault(norm, set()).add(label_of(example))
    conflicts: list[dict[str, object]] = []
    for item in new:
        norm = normalise(item.text)
        if not norm:
            continue
        if item.service_id in own_labels.get(norm, set()):
            continue  # the data already has this very question under this service
        best: dict[str, tuple[float, Example]] = {}
        matches = process.extract(norm, norms, scorer=fuzz.ratio, score_cutoff=NEAR_RATIO, limit=None)
        for _, score, index in matches:
            example = existing[index]
            label = label_of(example)
            if label == item.service_id:
                continue
            if not same_numbers(item.text, example.text):
                continue  # มาตรา 39 and มาตรา 40 are two services however alike the rest
            if label not in best or score > best[label][0]:
                best[label] = (score, example)
        for label, (score, example) in sorted(best.items(), key=lambda kv: -kv[1][0]):
            same = normalise(example.text) == norm
            conflicts.append(
                {
                    "text": item.text,
                    "service_id": item.service_id,
                    "conflicts_with": label,
                    "example": example.text,
                    "source": example.source,
                    "how": "same" if same else "near",
                    "similarity": 100.0 if same else round(score, 1),
                }
            )
    return conflicts
