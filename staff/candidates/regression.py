"""The regression set: questions with the service and topic they must get, per agency.

The frozen part is stored with the project, regression/<agency code>.yml (written for the gate,
never taken from the evaluation sets); it grows with every deployed candidate, whose examples are
added in PostgreSQL (table regression_question) and can be written into the files with
`python -m staff.candidates.export`.

    agency: dlt
    questions:
    - {text: ..., service: vehicle-tax, topic: fee}
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from staff.candidates.gate import Question

ROOT = Path(__file__).resolve().parents[2]
REGRESSION_DIR = ROOT / "regression"


def read_file(path: Path) -> list[Question]:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    agency = str(document.get("agency") or path.stem)
    return [
        Question(text=str(q["text"]), service_id=str(q["service"]), topic=str(q["topic"]), agency=agency,
                 source=path.name)
        for q in document.get("questions") or []
    ]


def read_dir(directory: Path = REGRESSION_DIR) -> list[Question]:
    return [q for path in sorted(directory.glob("*.yml")) for q in read_file(path)]


def merged(files: Iterable[Question], added: Iterable[Question]) -> list[Question]:
    """The files' questions, then the added ones not already there (same service and text)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for question in [*files, *added]:
        key = (question.service_id, question.text.strip())
        if key not in seen:
            seen.add(key)
            out.append(question)
    return out


def from_rows(rows: Iterable[dict[str, Any]]) -> list[Question]:
    return [
        Question(text=r["text"], service_id=r["service_id"], topic=r["topic"], agency=r["agency"],
                 source=f"candidate {r.get('candidate_id') or ''}".strip())
        for r in rows
    ]


def render(agency: str, questions: Iterable[Question], header: str = "") -> str:
    """A regression file: the agency's questions, grouped by service in the order given."""
    items = [{"text": q.text, "service": q.service_id, "topic": q.topic} for q in questions]
    body = yaml.dump({"agency": agency, "questions": items}, allow_unicode=True, sort_keys=False, width=1000,
                     default_flow_style=None)
    return "".join(f"# {line}\n" for line in header.splitlines()) + body
