"""The project's NLU training data as labelled examples, read and written without Rasa.

A question about a service is an example of the one intent `ask_service` whose metadata carries
the service and the topic (example level wins over the block's level), as data/nlu/*.yml and
bot/nlu/label_classifier.py have it. The candidate worker (services' environment) reads the
training data for the conflict check and writes the agencies' examples in the same form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from contract.replies import ASK_INTENT

# Rasa's inline entity annotations: [75](age), [รถตู้]{"entity": "vehicle"}: the text is in brackets.
_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    service: str | None = None
    topic: str | None = None
    # Where it comes from: a file name, "regression", "candidate".
    source: str = ""


def plain_text(text: str) -> str:
    return _ANNOTATION.sub(r"\1", text).strip()


def _label(key: str, example_meta: dict[str, Any], block_meta: dict[str, Any]) -> str | None:
    value = example_meta.get(key) or block_meta.get(key)
    return str(value) if value else None


def read_file(path: Path) -> list[Example]:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    examples: list[Example] = []
    for block in document.get("nlu") or []:
        intent = block.get("intent")
        if not intent:
            continue  # lookup tables, synonyms, regexes
        block_meta = block.get("metadata") or {}
        raw = block.get("examples") or []
        items: Iterable[dict[str, Any]]
        if isinstance(raw, str):
            lines = [line.strip() for line in raw.splitlines()]
            items = [{"text": line[1:].strip()} for line in lines if line.startswith("-")]
        else:
            items = [item if isinstance(item, dict) else {"text": str(item)} for item in raw]
        for item in items:
            text = plain_text(str(item.get("text") or ""))
            if not text:
                continue
            meta = item.get("metadata") or {}
            ask = intent == ASK_INTENT
            examples.append(
                Example(
                    text=text,
                    intent=intent,
                    service=_label("service", meta, block_meta) if ask else None,
                    topic=_label("topic", meta, block_meta) if ask else None,
                    source=path.name,
                )
            )
    return examples


def read_examples(data_dir: Path, skip: Iterable[str] = ()) -> list[Example]:
    """Every example of a Rasa data folder's NLU files (data/nlu/*.yml), but the files named in `skip`."""
    skipped = set(skip)
    files = sorted((data_dir / "nlu").glob("*.yml")) + sorted(data_dir.glob("*.yml"))
    return [e for path in files if path.name not in skipped for e in read_file(path)]


class _Dumper(yaml.SafeDumper):
    pass


def render(examples: Iterable[tuple[str, str, str]], header: str) -> str:
    """(service, topic, text) triples as Rasa training data: one `ask_service` block per service."""
    by_service: dict[str, list[dict[str, Any]]] = {}
    seen: set[tuple[str, str]] = set()
    for service, topic, text in examples:
        if (service, text) in seen:
            continue
        seen.add((service, text))
        by_service.setdefault(service, []).append({"text": text, "metadata": {"topic": topic}})
    nlu = [
        {"intent": ASK_INTENT, "metadata": {"service": service}, "examples": items}
        for service, items in sorted(by_service.items())
    ]
    body = yaml.dump({"version": "3.1", "nlu": nlu}, Dumper=_Dumper, allow_unicode=True, sort_keys=False,
                     width=1000)
    return "".join(f"# {line}\n" for line in header.splitlines()) + body
