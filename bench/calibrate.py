"""Choose the ServiceClassifier's `threshold` and `ambiguity_margin`, and the TopicClassifier's `threshold`.

    python -m bench.calibrate [--cv results/bench-nlu-cv.json] [--pipeline project] [--max-wrong 0.01]

Reads the out-of-fold rankings that bench/cv.py wrote and replays, for every pair of
values on a grid, the decision ServiceClassifier.verdict makes:

- answer: the top service is at least `threshold` and `ambiguity_margin` ahead of the
  runner-up. Right if it is the service asked about (or `none` for a follow-up), else
  *confidently wrong*;
- none: the message names no service (the conversation's service is used);
- ask back: otherwise; the buttons offer the top services (actions/understanding.py).
  Counted apart, as "clarified" when the right service is among the buttons.

It picks the values with the highest accuracy among those whose confidently wrong share
is at most --max-wrong. The examples generated from the catalog's names are left out:
they are the names themselves, trivially right, and would hide the errors on questions.
The topic's threshold is chosen the same way: below it, the topic is unsure.

It also replays the cascade of config.yml (E5Featurizer's `skip_when_confident`): for a
confidence limit, a message keeps the labels of the classifiers without e5 when all its
labels are at least that sure, and takes those of the classifiers with e5 otherwise. The
table shows, per limit, the share of messages that need e5 and the three accuracies.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.replies import NONE

# As actions/understanding.py offers buttons: the top three services above this confidence.
CANDIDATES, CANDIDATE_MIN_CONFIDENCE = 3, 0.05
THRESHOLDS = [round(0.01 * i, 2) for i in range(5, 100)]
MARGINS = [round(0.05 * i, 2) for i in range(0, 17)]
# Thresholds printed in the curve (the search uses all of THRESHOLDS).
SHOWN = [round(0.05 * i, 2) for i in range(1, 20)]
CAPS = [0.0, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 1.0]
# What an unsure topic can fall back to: the service's general description.
FALLBACK_TOPIC = "overview"


@dataclass(frozen=True)
class Outcome:
    threshold: float
    margin: float
    n: int
    right: int
    wrong: int
    clarified: int
    asked: int
    # Wrong answers to follow-ups (a service where the question named none).
    wrong_followups: int = 0
    # Topic only: right when an unsure topic falls back to FALLBACK_TOPIC.
    right_with_fallback: int = 0

    @property
    def accuracy(self) -> float:
        return self.right / self.n

    @property
    def wrong_share(self) -> float:
        return self.wrong / self.n

    def row(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "ambiguity_margin": self.margin,
            "accuracy": round(self.accuracy, 4),
            "confidently_wrong": round(self.wrong_share, 4),
            "asked_back": round(self.asked / self.n, 4),
            "clarified_right": round(self.clarified / self.n, 4),
            "wrong_on_followups": round(self.wrong_followups / self.n, 4),
            "accuracy_with_overview_fallback": round(self.right_with_fallback / self.n, 4),
        }


def service_decision(ranking: list[tuple[str, float]], threshold: float, margin: float) -> tuple[str, str]:
    """("answer", service) | ("none", "none") | ("ask", ""), as ServiceClassifier.verdict decides."""
    services = [(n, c) for n, c in ranking if n != NONE]
    p_none = next((c for n, c in ranking if n == NONE), 0.0)
    if not services:
        return "none", NONE
    top, confidence = services[0]
    runner_up = services[1][1] if len(services) > 1 else 0.0
    if confidence >= threshold and confidence - runner_up >= margin:
        return "answer", top
    if p_none >= confidence:
        return "none", NONE
    return "ask", ""


def replay_service(cases: list[tuple[str, list]], threshold: float, margin: float) -> Outcome:
    right = wrong = clarified = asked = followups = 0
    for truth, ranking in cases:
        kind, name = service_decision(ranking, threshold, margin)
        if kind == "ask":
            asked += 1
            offered = [n for n, c in ranking if n != NONE and c >= CANDIDATE_MIN_CONFIDENCE][:CANDIDATES]
            clarified += truth in offered
        elif name == truth:
            right += 1
        elif kind == "answer":
            # Another service, or a service where the question named none (a follow-up).
            wrong += 1
            followups += truth == NONE
    return Outcome(threshold, margin, len(cases), right, wrong, clarified, asked, followups)


def replay_topic(cases: list[tuple[str, list]], threshold: float) -> Outcome:
    right = wrong = asked = fallback_right = 0
    for truth, ranking in cases:
        if not ranking or ranking[0][1] < threshold:
            asked += 1
            fallback_right += truth == FALLBACK_TOPIC
        elif ranking[0][0] == truth:
            right += 1
        else:
            wrong += 1
    return Outcome(threshold, 0.0, len(cases), right, wrong, 0, asked, 0, right + fallback_right)


def best(outcomes: list[Outcome], max_wrong: float) -> Outcome | None:
    allowed = [o for o in outcomes if o.wrong_share <= max_wrong]
    # Highest accuracy; among equals, fewer wrong, then the lowest values (fewer questions back).
    return max(allowed, key=lambda o: (o.right, -o.wrong, -o.threshold, -o.margin), default=None)


def current_values(config_file: Path = Path("config.yml")) -> dict[str, Any]:
    """The values config.yml sets now (or the classes' defaults)."""
    import yaml
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe

    values: dict[str, Any] = {}
    for step in yaml.safe_load(config_file.read_text(encoding="utf-8"))["pipeline"]:
        short = step["name"].split(".")[-1]
        if short in ("ServiceClassifier", "TopicClassifier"):
            config = {**DefaultV1Recipe._from_registry(step["name"]).clazz.get_default_config(), **step}
            if short == "ServiceClassifier":
                values["service"] = (config["threshold"], config["ambiguity_margin"])
            else:
                values["topic"] = config["threshold"]
    return values


def load_cases(cv: dict[str, Any], pipeline: str, label: str) -> list[tuple[str, list]]:
    examples = cv["examples_detail"]
    predictions = cv["predictions"][pipeline][label]
    return [
        (examples[int(i)][label], [tuple(r) for r in p["ranking"]])
        for i, p in predictions.items()
        if not examples[int(i)]["from_lexicon"]
    ]


def calibrate(cv: dict[str, Any], pipeline: str, max_wrong: float) -> dict[str, Any]:
    services = load_cases(cv, pipeline, "service")
    topics = load_cases(cv, pipeline, "topic")
    grid = [replay_service(services, t, m) for t in THRESHOLDS for m in MARGINS]
    chosen = best(grid, max_wrong)
    # The curve: the best accuracy for each share of confidently wrong answers allowed.
    curve = [{"allowed_wrong": cap, **o.row()} for cap in CAPS if (o := best(grid, cap)) is not None]
    current = current_values()
    topic_grid = [replay_topic(topics, t) for t in [0.0, *THRESHOLDS]]
    topic_chosen = best(topic_grid, max_wrong)
    # With an overview answer when unsure, a low-confidence topic costs less than a wrong service.
    topic_fallback = max(topic_grid, key=lambda o: (o.right_with_fallback, -o.threshold))
    return {
        "pipeline": pipeline,
        "max_wrong": max_wrong,
        "service_examples": len(services),
        "topic_examples": len(topics),
        "service": chosen.row() if chosen else None,
        "service_current": replay_service(services, *current["service"]).row(),
        "topic_current": replay_topic(topics, current["topic"]).row(),
        "service_curve": curve,
        "topic": topic_chosen.row() if topic_chosen else None,
        "topic_with_overview_fallback": topic_fallback.row(),
        "topic_curve": [o.row() for o in topic_grid if o.threshold in (0.0, *SHOWN)],
    }


# (intent, service, topic) limits: the same for all three, then the service and topic
# lower than the intent (config.yml uses 0.75 / 0.6 / 0.6).
CASCADE_LIMITS = [(limit,) * 3 for limit in (0.0, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.01)] + [
    (0.75, 0.7, 0.7), (0.75, 0.6, 0.6), (0.75, 0.5, 0.5), (0.7, 0.6, 0.5), (0.6, 0.6, 0.5),
]


def cascade(cv: dict[str, Any], cheap: str = "project-no-e5", full: str = "project") -> list[dict[str, Any]]:
    """Per set of confidence limits: the share of messages sent on to e5, and the accuracies."""
    examples = cv["examples_detail"]
    predictions = cv["predictions"]
    if not all(predictions.get(p, {}).get("intent") for p in (cheap, full)):
        return []

    def top(pipeline: str, label: str, i: int) -> tuple[str | None, float]:
        ranking = (predictions[pipeline][label].get(str(i)) or {}).get("ranking") or []
        return (ranking[0][0], ranking[0][1]) if ranking else (None, 0.0)

    rows = []
    for intent_limit, service_limit, topic_limit in CASCADE_LIMITS:
        limits = {"service": service_limit, "topic": topic_limit}
        to_e5 = intent_right = service_right = topic_right = asked = 0
        for i, example in enumerate(examples):
            intent = top(cheap, "intent", i)
            labels = ["service", "topic"] if intent[0] == "ask_service" else []
            # Only the ask_service examples have service and topic rankings: the others
            # predicted as questions about a service are counted as sent on to e5.
            unsure = intent[1] < intent_limit or any(
                str(i) not in predictions[cheap][label] or top(cheap, label, i)[1] < limits[label]
                for label in labels
            )
            source = full if unsure else cheap
            to_e5 += unsure
            intent_right += top(source, "intent", i)[0] == example["intent"]
            if example["intent"] == "ask_service":
                asked += 1
                service_right += top(source, "service", i)[0] == (example["service"] or NONE)
                topic_right += top(source, "topic", i)[0] == example["topic"]
        rows.append({
            "limits": {"intent": intent_limit, **limits},
            "e5_share": round(to_e5 / len(examples), 3),
            "intent": round(intent_right / len(examples), 4),
            "service": round(service_right / asked, 4),
            "topic": round(topic_right / asked, 4),
        })
    return rows


def limits_text(limits: dict[str, float]) -> str:
    return " / ".join(f"{limits[label]:.2f}" for label in ("intent", "service", "topic"))


def print_cascade(rows: list[dict[str, Any]]) -> None:
    print("[cascade] classifiers without e5 first; e5 for the messages below a limit")
    print("  limits (intent / service / topic)  to e5  intent  service  topic   (0: never e5; 1.01: always)")
    for r in rows:
        print(
            f"  {limits_text(r['limits']):>32}  {r['e5_share']:>5.3f}  {r['intent']:.4f}  {r['service']:.4f}"
            f"   {r['topic']:.4f}"
        )


def print_report(result: dict[str, Any]) -> None:
    print(
        f"[{result['pipeline']}] service: {result['service_examples']} written examples, "
        f"confidently wrong <= {100 * result['max_wrong']:.0f}%"
    )
    print(
        "  allowed wrong  threshold  margin  accuracy  conf.wrong  (on follow-ups)  asked back"
        "  (right one offered)"
    )
    c = result["service_current"]
    rows = [(f"{100 * r['allowed_wrong']:>12.2f}%", r) for r in result["service_curve"]] + [
        ("  now (config)", c)
    ]
    for head, r in rows:
        print(
            f"  {head}  {r['threshold']:>9.2f}  {r['ambiguity_margin']:>6.2f}  {r['accuracy']:>8.3f}  "
            f"{r['confidently_wrong']:>10.3f}  ({r['wrong_on_followups']:>13.3f})  {r['asked_back']:>10.3f}  "
            f"({r['clarified_right']:.3f})"
        )
    s = result["service"]
    if s:
        print(
            f"  chosen: threshold={s['threshold']} ambiguity_margin={s['ambiguity_margin']} "
            f"accuracy={s['accuracy']:.3f} confidently_wrong={s['confidently_wrong']:.3f} "
            f"asked_back={s['asked_back']:.3f} (right service among the buttons {s['clarified_right']:.3f})"
        )
    else:
        print("  no value keeps confidently wrong under the limit")
    print(f"[{result['pipeline']}] topic: {result['topic_examples']} written examples")
    print("  threshold  accuracy  wrong  unsure  accuracy if unsure -> overview")
    for r in result["topic_curve"]:
        print(
            f"  {r['threshold']:>9.2f}  {r['accuracy']:>8.3f}  {r['confidently_wrong']:>5.3f}"
            f"  {r['asked_back']:>6.3f}"
            f"  {r['accuracy_with_overview_fallback']:>8.3f}"
        )
    c = result["topic_current"]
    print(
        f"  now (config): threshold={c['threshold']} accuracy={c['accuracy']:.3f} "
        f"wrong={c['confidently_wrong']:.3f}"
    )
    t = result["topic"]
    print(
        f"  chosen (wrong <= limit): threshold={t['threshold']} accuracy={t['accuracy']:.3f} "
        f"wrong={t['confidently_wrong']:.3f} unsure={t['asked_back']:.3f}"
        if t
        else "  no threshold keeps wrong topics under the limit"
    )
    f = result["topic_with_overview_fallback"]
    print(
        f"  best with an overview answer when unsure: threshold={f['threshold']} "
        f"accuracy={f['accuracy_with_overview_fallback']:.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cv", type=Path, default=Path("results/bench-nlu-cv.json"))
    parser.add_argument(
        "--pipeline", action="append", help="project, project-no-e5, community, e5-knn (default: all)"
    )
    parser.add_argument("--max-wrong", type=float, default=0.01)
    parser.add_argument("--out", type=Path, default=Path("results/bench-nlu-calibration.json"))
    args = parser.parse_args(argv)
    cv = json.loads(args.cv.read_text(encoding="utf-8"))
    results = []
    for pipeline in args.pipeline or ["project", "project-no-e5", "community", "e5-knn"]:
        if cv["predictions"].get(pipeline, {}).get("service"):
            result = calibrate(cv, pipeline, args.max_wrong)
            print_report(result)
            results.append(result)
    rows = cascade(cv)
    if rows:
        print_cascade(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    output = {"calibration": results, "cascade": rows}
    args.out.write_text(json.dumps(output, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
