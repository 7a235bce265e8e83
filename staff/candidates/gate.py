"""The regression gate: may a candidate model replace the live one? (docs/agency.md, "The gate")

Both models answer every question of the regression set (regression/*.yml and the examples of
every deployed candidate); a question is answered right when the intent is `ask_service` and the
service and the topic are the expected ones (an ask-back is not right). Cross-validation (3 folds
of the pipeline without e5, staff/candidates/rasa_side.py) scores the training data of both.

The candidate fails when, for any service:
- it answers more than REGRESSION_QUESTIONS of its regression questions worse than the live model
  *and* that is more than REGRESSION_POINTS points of the service's accuracy (a service with few
  questions may lose one, not two; one with many, up to 5 %);
- it now answers a question of another service, which the live model answered right, with one of
  the services its examples are about: what mislabelled examples do, so no tolerance;
- its cross-validated service accuracy falls by more than CV_POINTS points, or the overall one by
  more than CV_OVERALL_POINTS.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from contract.replies import ASK_INTENT

REGRESSION_QUESTIONS = 1
REGRESSION_POINTS = 5.0
CV_POINTS = 5.0
CV_OVERALL_POINTS = 1.0
TOLERANCE = {
    "regression": f"a service may lose at most {REGRESSION_QUESTIONS} question "
    f"or {REGRESSION_POINTS:g} points",
    "stolen": "no question of another service answered right before may go to the candidate's services",
    "cv": f"a service may lose at most {CV_POINTS:g} points of cross-validated accuracy, "
    f"all services together {CV_OVERALL_POINTS:g}",
}

Answer = dict[str, Any]


@dataclass(frozen=True)
class Question:
    text: str
    service_id: str
    topic: str
    agency: str = ""
    source: str = ""


def is_right(answer: Answer | None, question: Question) -> bool:
    return bool(
        answer
        and answer.get("intent") == ASK_INTENT
        and answer.get("service_id") == question.service_id
        and answer.get("topic") == question.topic
    )


def _key(answer: Answer | None) -> tuple[Any, ...]:
    answer = answer or {}
    return answer.get("intent"), answer.get("service_id"), answer.get("topic")


def _brief(answer: Answer | None) -> Answer:
    answer = answer or {}
    return {k: answer.get(k) for k in ("intent", "service_id", "topic")}


def summarise(questions: Sequence[Question], answers: Sequence[Answer | None]) -> dict[str, Any]:
    by_service: dict[str, dict[str, Any]] = {}
    for question, answer in zip(questions, answers, strict=True):
        entry = by_service.setdefault(question.service_id, {"n": 0, "right": 0})
        entry["n"] += 1
        entry["right"] += is_right(answer, question)
    for entry in by_service.values():
        entry["accuracy"] = round(entry["right"] / entry["n"], 4)
    right = sum(e["right"] for e in by_service.values())
    return {
        "questions": len(questions),
        "right": right,
        "accuracy": round(right / len(questions), 4) if questions else None,
        "by_service": dict(sorted(by_service.items())),
    }


def compare_regression(
    questions: Sequence[Question],
    before: Sequence[Answer | None],
    after: Sequence[Answer | None],
    candidate_services: Iterable[str],
) -> tuple[list[dict[str, Any]], list[str]]:
    """(changed, reasons to fail): every question answered otherwise, and what breaks the gate."""
    own = set(candidate_services)
    changed: list[dict[str, Any]] = []
    reasons: list[str] = []
    for question, old, new in zip(questions, before, after, strict=True):
        if _key(old) == _key(new):
            continue
        was, now = is_right(old, question), is_right(new, question)
        changed.append(
            {
                "text": question.text,
                "service_id": question.service_id,
                "topic": question.topic,
                "before": _brief(old),
                "after": _brief(new),
                "broke": was and not now,
                "fixed": now and not was,
            }
        )
        taken_by = (new or {}).get("service_id")
        if was and question.service_id not in own and taken_by in own:
            reasons.append(
                f"{question.service_id}: the question {question.text!r} now goes to {taken_by} "
                f"(one of the candidate's services)"
            )
    old_summary, new_summary = summarise(questions, before), summarise(questions, after)
    for service, old_entry in old_summary["by_service"].items():
        new_entry = new_summary["by_service"][service]
        lost = old_entry["right"] - new_entry["right"]
        points = 100.0 * lost / old_entry["n"]
        if lost > REGRESSION_QUESTIONS and points > REGRESSION_POINTS:
            reasons.append(
                f"{service}: {lost} of {old_entry['n']} regression questions answered worse "
                f"({points:.0f} points)"
            )
    return changed, reasons


def compare_cv(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Reasons to fail from the cross-validation summaries (rasa_side.cv_summary)."""
    reasons = []
    for service, old_entry in (before.get("by_service") or {}).items():
        new_entry = (after.get("by_service") or {}).get(service)
        if not new_entry or not old_entry.get("n"):
            continue
        points = 100.0 * (old_entry["service_accuracy"] - new_entry["service_accuracy"])
        if points > CV_POINTS:
            reasons.append(f"{service}: cross-validated service accuracy down {points:.1f} points")
    if before.get("service_accuracy") is not None and after.get("service_accuracy") is not None:
        points = 100.0 * (before["service_accuracy"] - after["service_accuracy"])
        if points > CV_OVERALL_POINTS:
            reasons.append(f"all services: cross-validated service accuracy down {points:.1f} points")
    return reasons


def cv_summary(
    rows: Sequence[dict[str, Any]], keys: set[tuple[str, str, str]] | None = None
) -> dict[str, Any]:
    """Accuracy per service of out-of-fold predictions (rows of rasa_side's `cv`), on `keys` only if given.

    Before and after are compared on the examples they share (text, service, topic): adding
    examples changes no fold of the others (a text's fold is a hash of it).
    """
    chosen = [r for r in rows if keys is None or (r["text"], r["service"], r["topic"]) in keys]
    by_service: dict[str, dict[str, Any]] = {}
    for row in chosen:
        entry = by_service.setdefault(row["service"], {"n": 0, "service_right": 0, "topic_right": 0})
        entry["n"] += 1
        entry["service_right"] += row["predicted_service"] == row["service"]
        entry["topic_right"] += row["predicted_topic"] == row["topic"]
    for entry in by_service.values():
        entry["service_accuracy"] = round(entry["service_right"] / entry["n"], 4)
        entry["topic_accuracy"] = round(entry["topic_right"] / entry["n"], 4)
    n = len(chosen)
    return {
        "examples": n,
        "service_accuracy": round(sum(e["service_right"] for e in by_service.values()) / n, 4) if n else None,
        "topic_accuracy": round(sum(e["topic_right"] for e in by_service.values()) / n, 4) if n else None,
        "by_service": {
            s: {"n": e["n"], "service_accuracy": e["service_accuracy"], "topic_accuracy": e["topic_accuracy"]}
            for s, e in sorted(by_service.items())
        },
    }
