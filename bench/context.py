"""Choose ConversationContext's priors (`prior`, `follow_up_prior`, `related_prior`,
`named_prior`, `intent_prior`) by cross-validation.

    python -m bench.context [--cv results/bench-nlu-cv.json] [--pipeline project]

Reads the out-of-fold rankings that bench/cv.py wrote (no dev set is involved) and plays
every training question as if it came in a conversation about another service:

- a follow-up (`none`) must be answered about the service being discussed;
- a question labelled with a service must be answered about it: about the discussed
  service when it is the same, a switch when it is another; a follow-up written to move
  from a related service (its `after` metadata) is played in a conversation about that
  service (`related`), with the relations learnt from the other folds' examples;
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

from bot.nlu.conversation_context import context_prior, relations_of, with_context, with_intent_prior
from bot.nlu.service_classifier import service_verdict
from bot.nlu.service_lexicon import LOOKUP_PREFIX, ServiceLexicon
from contract.replies import ASK_INTENT, FOLLOW_UPS, NONE, PREVIOUS

PRIORS = [1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0]
RELATED_PRIORS = [1.0, 1.5, 2.0, 3.0, 4.0, 6.0]
FOLLOW_UP_PRIORS = [1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0]
# How often a message that names no service continues the conversation rather than
# switching to a service it only describes. Not measured (no conversation data is used):
# the design says such a message is a follow-up, and this states how strongly. A switch
# is as often to a related service as to any other.
CONTINUES = 0.9
# How much each group counts in the choice of a prior.
WEIGHTS = {
    "prior": {"follow-up": CONTINUES / 2, "same": CONTINUES / 2,
              "switch": (1 - CONTINUES) / 2, "related": (1 - CONTINUES) / 2},
    "named_prior": {"same": 0.5, "switch": 0.5},
}
GROUPS = ("follow-up", "same", "switch", "related")
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
                      "mentions": lex.mentions(example["text"]), "after": example.get("after"),
                      "fold": example.get("fold")})
    return cases, services


def fold_relations(cv: dict[str, Any]) -> dict[Any, dict[str, list[str]]]:
    """For each fold, the relations between services that the other folds' examples teach."""
    examples = cv["examples_detail"]
    return {
        fold: relations_of(
            (e["after"], e["service"]) for e in examples if e.get("after") and e.get("fold") != fold
        )
        for fold in {e.get("fold") for e in examples}
    }


def plays(cases: list[dict[str, Any]], services: list[str], which: str,
          relations: dict[Any, dict[str, list[str]]] | None = None) -> list[tuple]:
    """Every training question played in a conversation about every service, where it takes
    the prior `which`: (ranking, discussed, previous, expected, group, related services)."""
    played = []
    for case in cases:
        related_to = (relations or {}).get(case["fold"], {})
        label = case["label"]
        for current in services:
            if context_prior(case["mentions"], current) != which:
                continue
            previous = services[(services.index(current) + 1) % len(services)]
            expected = current if label == NONE else previous if label == PREVIOUS else label
            group = ("follow-up" if label in FOLLOW_UPS else "same" if label == current
                     else "related" if case["after"] == current else "switch")
            played.append((case["ranking"], current, previous, expected, group, related_to.get(current, ())))
    return played


def replay_service(played: list[tuple], priors: dict[str, float], threshold: float,
                   margin: float) -> dict[str, float]:
    """Accuracy (and the share answered wrong) by group: `priors` has `prior` (the discussed
    service's), `related_prior` and `follow_up_prior` (None: as `prior`)."""
    right: dict[str, int] = defaultdict(int)
    wrong: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for ranking, current, previous, expected, group, related in played:
        ranked = with_context(ranking, current, previous, priors["prior"], related,
                              priors.get("related_prior", 1.0), priors.get("follow_up_prior"))
        verdict = service_verdict(ranked, threshold, margin)
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


def weighted(result: dict[str, float], weights: dict[str, float]) -> float:
    """The weighted accuracy over the groups; a group no message falls in counts as 0."""
    return sum(w * result.get(g, 0.0) for g, w in weights.items())


def best(rows: list[tuple[Any, dict[str, float]]], weights: dict[str, float]) -> Any:
    """The prior (or tuple of priors) with the best weighted accuracy; the smallest on a tie."""
    return max(rows, key=lambda row: (weighted(row[1], weights), tuple(-x for x in _tuple(row[0]))))[0]


def _tuple(value: Any) -> tuple[float, ...]:
    return value if isinstance(value, tuple) else (value,)


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
    relations = fold_relations(cv)
    chosen: dict[str, float | None] = {}
    grids = {
        "prior": [(p, k, r) for p in PRIORS for k in FOLLOW_UP_PRIORS for r in RELATED_PRIORS],
        "named_prior": [(p, None, 1.0) for p in PRIORS],
    }
    for which, title in (("prior", "messages that name no catalog service"),
                         ("named_prior", "messages that name it, alone or by a shared name")):
        played = plays(cases, services, which, relations)
        print(f"service in a conversation, {title} ({len(played)} plays of {len(cases)} questions"
              f" in conversations about {len(services)} services)")
        weights = WEIGHTS[which]
        header = (f"{'prior':>6} {'none':>5} {'related':>7} {'follow-up':>10} {'same':>7} {'switch':>7}"
                  f" {'related':>8} {'weighted':>9} {'wrong f-u':>10} {'wrong sw':>9} {'wrong rel':>9}")
        print(header + "   weights " + ", ".join(f"{g} {w:.3f}" for g, w in weights.items()))
        rows = []
        for prior, follow_up_prior, related_prior in grids[which]:
            settings = {"prior": prior, "follow_up_prior": follow_up_prior, "related_prior": related_prior}
            rows.append(((prior, follow_up_prior or prior, related_prior),
                         replay_service(played, settings, args.threshold, args.margin)))
        # The whole grid of `prior` is long: the best rows, and each prior's own (none = prior, no
        # related prior), which is how ConversationContext weighed a message before.
        ranked = sorted(rows, key=lambda row: -weighted(row[1], weights))
        shown = ranked[:12] + [row for row in rows if row[0][1] == row[0][0] and row[0][2] == 1.0
                               and row not in ranked[:12]]
        for (prior, follow_up_prior, related_prior), r in shown:
            cells = [r.get(g, float("nan"))
                     for g in (*GROUPS, "wrong follow-up", "wrong switch", "wrong related")]
            print(f"{prior:>6g} {follow_up_prior:>5g} {related_prior:>7g} " + " ".join(
                f"{c:>{w}.3f}" for c, w in zip(cells[:4], (10, 7, 7, 8), strict=True))
                + f" {weighted(r, weights):>9.3f} "
                + " ".join(f"{c:>{w}.3f}" for c, w in zip(cells[4:], (10, 9, 9), strict=True)))
        chosen[which], follow_up_prior, related_prior = best(rows, weights)
        if which == "prior":
            chosen["follow_up_prior"], chosen["related_prior"] = follow_up_prior, related_prior
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
    print(f"\nchosen: prior {chosen['prior']:g}, follow_up_prior {chosen['follow_up_prior']:g},"
          f" related_prior {chosen['related_prior']:g}, named_prior {chosen['named_prior']:g},"
          f" intent_prior {intent_prior:g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
