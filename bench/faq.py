"""Choose FaqMatcher's `threshold`, `margin` and `prefilter` by cross-validation (config.yml).

    python -m bench.faq [--min-precision 0.95] [--json results/bench-faq.json]

Positives: every question and variant of every FAQ entry (catalog/faq/*.yml), held out in turn
(leave one out): the rest of its service's FAQ texts are the index, and the held-out text is
right when its own entry is matched. Negatives: the other questions about the same service in
data/nlu (not FAQ texts, not the catalog's bare names): each is matched against its service's
entries, and a match is false, except for the questions a person judged to ask what an entry
answers (bench/faq_judged.yml: data/nlu was written before the entries, and many of its
questions are theirs), whose match to that entry is right. The generic follow-ups of data/nlu
(service `none`) are matched against every service's entries, as a follow-up is at run time,
and their matches are counted apart: many of them are answered right by an entry ("ชาวต่างชาติ
ทำได้ไหม" while a licence is discussed).

The matching is FaqMatcher's own (bot/nlu/faq_matcher.py): e5 features centred on the service's
mean (all the service's training examples), the nearest text of each entry, the entry's topic
against the question's. Here the question's topic is its label in the data, where at run time
it is TopicClassifier's prediction: the figures are what the matcher does when the topic is
right.

The threshold is the one with the best recall among those whose precision is at least
--min-precision (a wrong entry is a confident answer to another question). The prefilter
(character n-grams, for the messages E5Featurizer did not embed) is then the highest likeness
that loses at most --max-prefilter-loss of the right matches; the share of questions that would
still need an e5 call is printed.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

os.environ.setdefault("PYTHAINLP_OFFLINE", "1")

from bench.encoders import embed_all
from bench.nlu_data import load_corpus
from bot.nlu.faq_matcher import centred, char_vectorizer, decide, ranked_entries
from bot.nlu.thai_text import normalise
from catalog.faq_training import FAQ_DIR, read_faq_dir, texts_of
from contract.replies import ASK_INTENT, FOLLOW_UPS

THRESHOLDS = [round(0.20 + 0.01 * i, 2) for i in range(61)]
MARGINS = [0.0, 0.02, 0.05, 0.1]
PREFILTERS = [round(0.05 * i, 2) for i in range(0, 13)]
JUDGED = Path(__file__).resolve().parent / "faq_judged.yml"
CACHE = Path("results/cache")
SHOWN = THRESHOLDS[::5]


@dataclass(frozen=True)
class Case:
    """One question to match: its service and topic, the entry it asks (None: no entry), and
    whether it is an FAQ text (held out) or a generic follow-up."""

    text: str
    service: str
    topic: str
    entry: str | None
    faq_text: bool = False
    follow_up: bool = False


@dataclass(frozen=True)
class Scored:
    ranked: list[tuple[str, float]]
    likeness: float


@dataclass(frozen=True)
class Outcome:
    threshold: float
    margin: float
    prefilter: float
    right: int
    wrong: int
    right_faq_texts: int
    faq_texts: int
    right_judged: int
    judged: int
    false_on_negatives: int
    negatives: int
    follow_up_matches: int
    follow_ups: int
    needs_e5: float

    @property
    def precision(self) -> float:
        return self.right / (self.right + self.wrong) if self.right + self.wrong else 1.0

    @property
    def recall(self) -> float:
        """Of the FAQ texts, held out."""
        return self.right_faq_texts / self.faq_texts if self.faq_texts else 0.0


def load_judged(path: Path = JUDGED) -> dict[str, str]:
    """normalised text -> the entry a person judged it to ask."""
    judged = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {normalise(text): entry for entry, texts in judged.items() for text in texts}


def cases_and_means(faq_dir: Path, data_dir: Path) -> tuple[list[Case], dict[str, list[str]]]:
    """The cases, and each service's texts that make its mean (as FaqMatcher.train takes them)."""
    entries = read_faq_dir(faq_dir)
    judged = load_judged()
    faq_texts = {normalise(t) for e in entries for t in texts_of(e)}
    found = [Case(normalise(text), e["service"], e["topic"], e["id"], faq_text=True)
             for e in entries for text in texts_of(e)]  # fmt: skip
    services = sorted({e["service"] for e in entries})
    means: dict[str, list[str]] = {s: [c.text for c in found if c.service == s] for s in services}
    follow_ups = []
    for example in load_corpus(data_dir).examples:
        text = normalise(example.text)
        if example.intent != ASK_INTENT or text in faq_texts:
            continue
        if example.service in services:
            means[example.service].append(text)
            if not example.from_lexicon:
                found.append(Case(text, example.service, example.topic or "", judged.get(text)))
        elif example.service in FOLLOW_UPS:
            follow_ups.append((text, example.topic or ""))
    found += [Case(text, s, topic, None, follow_up=True) for text, topic in follow_ups for s in services]
    return found, means


def score(cases: Sequence[Case], means: dict[str, list[str]]) -> list[Scored]:
    """Every case against its service's FAQ texts (its own text left out), as FaqMatcher does."""
    texts = sorted({c.text for c in cases} | {t for ts in means.values() for t in ts})
    vectors, _ = embed_all("e5-small", texts, CACHE)
    row_of = {t: i for i, t in enumerate(texts)}
    chars = char_vectorizer()
    index = {}
    for service, service_texts in means.items():
        mean = vectors[[row_of[t] for t in service_texts]].mean(axis=0)
        rows = [c for c in cases if c.faq_text and c.service == service]
        index[service] = (mean, rows, centred(vectors[[row_of[r.text] for r in rows]], mean),
                          chars.transform([r.text for r in rows]))  # fmt: skip
    scored = []
    for case in cases:
        mean, rows, matrix, row_chars = index[case.service]
        keep = [i for i, r in enumerate(rows) if r.text != case.text]
        similarities = matrix[keep] @ centred(vectors[row_of[case.text]], mean)
        # As FaqMatcher: the letters compared with the texts of the entries of the message's topic.
        admitted = [i for i in keep if rows[i].topic == case.topic]
        likeness = (row_chars[admitted] @ chars.transform([case.text]).T).toarray().max(initial=0.0)
        scored.append(Scored(ranked_entries(similarities, [rows[i].entry for i in keep]), float(likeness)))
    return scored


def outcome(
    cases: Sequence[Case], scored: Sequence[Scored], topic_of: dict[str, str],
    threshold: float, margin: float, prefilter: float,
) -> Outcome:  # fmt: skip
    topics: dict[str, set[str]] = {}
    for case in cases:
        if case.faq_text:
            topics.setdefault(case.service, set()).add(case.topic)
    right = wrong = right_faq = right_judged = false_negatives = follow_matches = needs = 0
    for case, result in zip(cases, scored, strict=True):
        # As FaqMatcher: e5 only for a message some entry of its service could match by topic.
        could = case.topic in topics[case.service] and result.likeness >= prefilter
        needs += could and not case.follow_up
        embedded = result.likeness >= prefilter
        found = decide(result.ranked, threshold, margin) if embedded else None
        if found is None or topic_of[found[0]] != case.topic:
            continue
        if case.follow_up:
            follow_matches += 1
        elif found[0] == case.entry:
            right += 1
            right_faq += case.faq_text
            right_judged += not case.faq_text
        else:
            wrong += 1
            false_negatives += case.entry is None
    own = [c for c in cases if not c.follow_up]
    judged = sum(1 for c in own if c.entry and not c.faq_text)
    return Outcome(
        threshold, margin, prefilter, right, wrong,
        right_faq, sum(c.faq_text for c in own), right_judged, judged,
        false_negatives, sum(1 for c in own if c.entry is None),
        follow_matches, sum(c.follow_up for c in cases), round(needs / len(own), 4),
    )  # fmt: skip


def line(o: Outcome) -> str:
    return (f"{o.threshold:>9.2f} {o.margin:>6.2f} {o.prefilter:>9.2f} {o.precision:>9.3f} "
            f"{o.recall:>7.3f} "
            f"{o.right_judged:>4}/{o.judged:<4} {o.wrong:>5} {o.false_on_negatives:>4}/{o.negatives:<5} "
            f"{o.follow_up_matches:>5}/{o.follow_ups:<5} {o.needs_e5:>8.3f}")  # fmt: skip


HEADER = ("threshold margin prefilter precision  recall   judged wrong  false/neg   f-ups/all   "
          "needs-e5")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--faq-dir", type=Path, default=FAQ_DIR)
    parser.add_argument("--data-dir", type=Path, default=Path("data/nlu"))
    parser.add_argument("--min-precision", type=float, default=0.95)
    parser.add_argument("--max-prefilter-loss", type=float, default=0.01)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    cases, means = cases_and_means(args.faq_dir, args.data_dir)
    topic_of = {e["id"]: e["topic"] for e in read_faq_dir(args.faq_dir)}
    scored = score(cases, means)
    print(f"{sum(c.faq_text for c in cases)} FAQ texts held out one at a time; "
          f"{sum(1 for c in cases if not c.faq_text and not c.follow_up)} other questions of the "
          f"same services "
          f"({sum(1 for c in cases if c.entry and not c.faq_text)} judged to ask an entry); "
          f"{sum(c.follow_up for c in cases)} follow-ups x services")  # fmt: skip
    print("\nby threshold (no prefilter): recall of the FAQ texts; judged questions matched to their entry;")
    print("wrong = another entry, or a match of a question no entry answers (false/neg)")
    print(HEADER)
    grid = [outcome(cases, scored, topic_of, t, m, 0.0) for t in THRESHOLDS for m in MARGINS]
    for o in grid:
        if o.threshold in SHOWN and o.margin == 0.0:
            print(line(o))
    good = [o for o in grid if o.precision >= args.min_precision]
    if not good:
        print(f"\nno threshold reaches precision {args.min_precision}")
        return 1
    # Best recall; on a tie the higher threshold and the smaller margin (the simpler rule).
    best = max(good, key=lambda o: (o.recall, o.threshold, -o.margin))
    kept = [outcome(cases, scored, topic_of, best.threshold, best.margin, p) for p in PREFILTERS]
    chosen = max((o for o in kept if o.right >= best.right * (1 - args.max_prefilter_loss)),
                 key=lambda o: o.prefilter)  # fmt: skip
    print(f"\nchosen: precision >= {args.min_precision} with the best recall, then the prefilter that loses "
          f"<= {args.max_prefilter_loss:.0%} of the right matches")
    print(HEADER)
    print(line(best))
    print(line(chosen))
    print("\nwrong matches at the chosen values (for a person to judge):")
    for case, result in zip(cases, scored, strict=True):
        if result.likeness < chosen.prefilter or case.follow_up:
            continue
        found = decide(result.ranked, chosen.threshold, chosen.margin)
        if found and topic_of[found[0]] == case.topic and found[0] != case.entry:
            asks = "" if case.entry is None else f" (asks {case.entry})"
            print(f"  {found[1]:.3f} {case.text} -> {found[0]}{asks}")
    print(f"\nFaqMatcher: threshold {chosen.threshold}, margin {chosen.margin}, prefilter {chosen.prefilter}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {"chosen": {**asdict(chosen), "precision": chosen.precision, "recall": chosen.recall},
                  "best_without_prefilter": asdict(best)}  # fmt: skip
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
