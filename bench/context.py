"""Choose ConversationContext's `prior` and `intent_prior` by cross-validation.

    python -m bench.context [--cv results/bench-nlu-cv.json] [--pipeline project]

Reads the out-of-fold rankings that bench/cv.py wrote (no dev set is involved) and plays
every training question as if it came in a conversation about another service:

- a follow-up (`none`) must be answered about the service being discussed;
- a question labelled with a service must be answered about it: about the discussed
  service when it is the same, a switch when it is another;
- for the intent, every example keeps its own intent in a conversation, and a follow-up
  must stay a question about a service (not small talk, not out of scope, not unsure).

For each value of a prior it replays bot/nlu/conversation_context.py's arithmetic and the
ServiceClassifier's verdict, and prints the accuracy of each group; it picks the value
with the best mean over the groups (each group counts the same, however many examples
it has). The catalog's bare names are left out, as in bench/calibrate.py.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from bot.nlu.conversation_context import context_prior, with_context, with_intent_prior
from bot.nlu.service_classifier import service_verdict
from bot.nlu.service_lexicon import LOOKUP_PREFIX, ServiceLexicon
from contract.replies import ASK_INTENT, FOLLOW_UPS, NONE, PREVIOUS

PRIORS = [1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0]
# How often a message that names no service continues the conversation rather than
# switching to a service it only describes. Not measured (no conversation data is used):
# the design says such a message is a follow-up, and this states how strongly.
CONTINUES = 0.9
# How much each group counts in the choice of a prior.
WEIGHTS = {
    "prior": {"follow-up": CONTINUES / 2, "same": CONTINUES / 2, "switch": 1 - CONTINUES},
    "named_prior": {"same": 0.5, "switch": 0.5},
}
# FallbackClassifier's threshold in config.yml: below it the intent is `nlu_fallback`.
FALLBACK_THRESHOLD = 0.35


def lexicon(path: Path = Path("data/nlu/lexicon.yml")) -> ServiceLexicon:
    tables = yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]
    return ServiceLexicon({
        t["lookup"][len(LOOKUP_PREFIX):]: [line[2:] for line in t["examples"].strip().splitlines()]
        for t in tables if str(t.get("lookup", "")).startswith(LOOKUP_PREFIX)
    })


def as_entries(ranking: list[list[Any]]) -> list[dict[str, Any]]:
    return [{"name": name, "confidence": confidence} for name, confidence in ranking]


def service_cases(cv: dict[str, Any], pipeline: str, lex: ServiceLexicon) -> list[dict[str, Any]]:
    examples = cv["examples_detail"]
    services = sorted({e["service"] for e in examples if e.get("service") and e["service"] not in FOLLOW_UPS})
    cases = []
    for i, prediction in cv["predictions"][pipeline]["service"].items():
        example = examples[int(i)]
        if example.get("from_lexicon"):
            continue
        cases.append({"label": example["service"], "ranking": as_entries(prediction["ranking"]),
                      "mentions": lex.mentions(example["text"])})
    return cases, services


def replay_service(cases: list[dict[str, Any]], services: list[str], priors: dict[str, float],
                   threshold: float, margin: float, which: str) -> dict[str, float]:
    """Accuracy by group of the messages that take the prior `which` in a conversation."""
    right: dict[str, int] = defaultdict(int)
    wrong: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for case in cases:
        for current in services:
            previous = services[(services.index(current) + 1) % len(services)]
            label = case["label"]
            expected = current if label == NONE else previous if label == PREVIOUS else label
            group = "follow-up" if label in FOLLOW_UPS else "same" if label == current else "switch"
            if context_prior(case["mentions"], current) != which:
                continue
            ranking = with_context(case["ranking"], current, previous, priors[which])
            verdict = service_verdict(ranking, threshold, margin)
            total[group] += 1
            if not verdict["ambiguous"] and verdict["name"] not in FOLLOW_UPS:
                if verdict["name"] == expected:
                    right[group] += 1
                else:
                    wrong[group] += 1
    return {**{g: right[g] / total[g] for g in total}, **{f"wrong {g}": wrong[g] / total[g] for g in total}}


def replay_intent(cv: dict[str, Any], pipeline: str, prior: float) -> dict[str, float]:
    examples = cv["examples_detail"]
    right: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for i, prediction in cv["predictions"][pipeline]["intent"].items():
        example = examples[int(i)]
        if example.get("from_lexicon"):
            continue
        follow_up = example["intent"] == ASK_INTENT and example.get("service") in FOLLOW_UPS
        group = "follow-up" if follow_up else "service" if example["intent"] == ASK_INTENT else "other"
        ranking = with_intent_prior(as_entries(prediction["ranking"]), prior)
        total[group] += 1
        top = ranking[0] if ranking else {"name": None, "confidence": 0.0}
        right[group] += top["name"] == example["intent"] and top["confidence"] >= FALLBACK_THRESHOLD
    return {g: right[g] / total[g] for g in total}


def best(rows: list[tuple[float, dict[str, float]]], weights: dict[str, float]) -> float:
    """The prior with the best weighted accuracy; the smallest on a tie."""
    return max(rows, key=lambda row: (sum(w * row[1][g] for g, w in weights.items()), -row[0]))[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cv", type=Path, default=Path("results/bench-nlu-cv.json"))
    parser.add_argument("--pipeline", default="project")
    parser.add_argument("--threshold", type=float, default=0.45)
    parser.add_argument("--margin", type=float, default=0.3)
    args = parser.parse_args(argv)
    cv = json.loads(args.cv.read_text(encoding="utf-8"))

    cases, services = service_cases(cv, args.pipeline, lexicon())
    chosen: dict[str, float] = {}
    for which, title in (("prior", "messages that name no catalog service"),
                         ("named_prior", "messages that name it, alone or by a shared name")):
        print(f"service in a conversation, {title} ({len(cases)} questions x {len(services)} services)")
        weights = WEIGHTS[which]
        print(f"{'prior':>6} {'follow-up':>10} {'same':>7} {'switch':>7} {'weighted':>9}"
              f" {'wrong f-u':>10} {'wrong sw':>9}   weights "
              + ", ".join(f"{g} {w:.2f}" for g, w in weights.items()))
        rows = []
        for prior in PRIORS:
            r = replay_service(cases, services, {which: prior}, args.threshold, args.margin, which)
            rows.append((prior, r))
            cells = [r.get(g, float("nan")) for g in ("follow-up", "same", "switch",
                                                       "wrong follow-up", "wrong switch")]
            weighted = sum(w * r[g] for g, w in weights.items())
            print(f"{prior:>6g} {cells[0]:>10.3f} {cells[1]:>7.3f} {cells[2]:>7.3f} {weighted:>9.3f}"
                  f" {cells[3]:>10.3f} {cells[4]:>9.3f}")
        chosen[which] = best(rows, weights)
        print()

    print("\nintent in a conversation (accuracy, FallbackClassifier included)")
    print(f"{'prior':>6} {'follow-up':>10} {'service':>8} {'other':>7} {'mean':>7}")
    rows = []
    for prior in PRIORS:
        r = replay_intent(cv, args.pipeline, prior)
        rows.append((prior, r))
        mean = (r["follow-up"] + r["service"] + r["other"]) / 3
        print(f"{prior:>6g} {r['follow-up']:>10.3f} {r['service']:>8.3f} {r['other']:>7.3f} {mean:>7.3f}")
    intent_prior = best(rows, {"follow-up": 1 / 3, "service": 1 / 3, "other": 1 / 3})
    print(f"\nchosen: prior {chosen['prior']:g}, named_prior {chosen['named_prior']:g},"
          f" intent_prior {intent_prior:g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
