"""Agent assist against the chat: which service each understands from a conversation's first turn.

    .venv/services/bin/python -m bench.assist --data ../shared/eval/dev.jsonl [--rasa-url URL]

Runs in the services' environment (staff/assist.py is the gateway's code). For every case
whose first turn expects a service, asks
- agent assist (staff.assist.Assistant: Rasa's parse and the action server's answer, as
  `POST /api/agent/assist` does, without the gateway's sign-in): right when its
  understanding is the expected service; "one click away" also counts the alternatives;
- the chat: the turn over Rasa's REST channel under a fresh sender, as ../shared/eval/score.py
  plays it: right when the envelope is an `answer` or `form` of the expected service.
The chat may ask back when unsure (a `clarify`), which counts as not right; assist always
shows its best guess with its confidence, so the two answer different questions: how often
the agent sees the right service at once, and how often the citizen gets it without a question back.

Prints figures only: no text of the set is printed or written anywhere. The stack must run
(`make up`); Rasa's API and REST channel tokens are RASA_TOKEN and REST_TOKEN, else the ones
scripts/stack keeps in the run folder (bench/tokens.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.tokens import rasa_token, rest_headers
from gateway.config import Settings
from staff.assist import Assistant


@dataclass
class Tally:
    cases: int = 0
    assist_right: int = 0
    assist_in_reach: int = 0  # the understanding or one of the alternatives
    assist_answered: int = 0
    chat_right: int = 0
    chat_clarified: int = 0
    errors: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {"assist": 0.0, "chat": 0.0})


def first_turns(path: Path) -> list[tuple[str, str]]:
    """(text, expected service) of each case's first turn that expects one."""
    turns = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        first = json.loads(line)["turns"][0]
        expected = (first.get("expect") or {}).get("service_id")
        if expected:
            turns.append((first["text"], expected))
    return turns


def envelope(messages: list[dict[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for message in messages:
        custom = message.get("custom") if isinstance(message, dict) else None
        if isinstance(custom, dict) and "kind" in custom:
            found = custom
    return found


async def run(turns: list[tuple[str, str]], settings: Settings, headers: dict[str, str]) -> Tally:
    tally = Tally()
    assistant = Assistant.from_settings(settings)
    async with httpx.AsyncClient(timeout=60) as chat:
        try:
            for text, expected in turns:
                tally.cases += 1
                started = time.perf_counter()
                try:
                    result = await assistant.assist(text)
                except Exception:  # a failed call counts as wrong, and is counted
                    tally.errors += 1
                    result = {"understanding": {}, "answer": None, "alternatives": []}
                tally.seconds["assist"] += time.perf_counter() - started
                understood = result["understanding"].get("service_id")
                tally.assist_right += understood == expected
                in_reach = {understood, *(a["service_id"] for a in result["alternatives"])}
                tally.assist_in_reach += expected in in_reach
                tally.assist_answered += result["answer"] is not None

                started = time.perf_counter()
                try:
                    response = await chat.post(
                        f"{settings.rasa_url}/webhooks/rest/webhook",
                        json={"sender": f"bench-assist-{uuid.uuid4().hex}", "message": text},
                        headers=headers,
                    )
                    response.raise_for_status()
                    reply = envelope(response.json())
                except (httpx.HTTPError, ValueError):
                    tally.errors += 1
                    reply = {}
                tally.seconds["chat"] += time.perf_counter() - started
                answered = reply.get("kind") in ("answer", "form")
                tally.chat_right += answered and reply.get("service_id") == expected
                tally.chat_clarified += reply.get("kind") == "clarify"
        finally:
            await assistant.aclose()
    return tally


def pct(n: int, d: int) -> str:
    return f"{100.0 * n / d:.1f}% ({n}/{d})" if d else "n/a"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--rasa-url", help="default: RASA_URL, else the stack's")
    parser.add_argument("--actions-url", help="default: ACTION_ENDPOINT_URL, else the stack's")
    parser.add_argument("--json", dest="json_out", type=Path, help="write the figures here too")
    args = parser.parse_args()

    settings = Settings.from_env(dotenv=False)
    settings = Settings(
        rasa_url=(args.rasa_url or settings.rasa_url).rstrip("/"),
        rasa_timeout=60.0,
        rasa_token=rasa_token(),
        actions_url=args.actions_url or settings.actions_url,
    )
    turns = first_turns(args.data)
    tally = asyncio.run(run(turns, settings, rest_headers()))

    n = tally.cases
    print(f"first turns that expect a service: {n}")
    print(f"assist service accuracy:        {pct(tally.assist_right, n)}")
    print(f"assist, one click away:         {pct(tally.assist_in_reach, n)}  (understanding or alternatives)")
    print(f"assist gave an answer:          {pct(tally.assist_answered, n)}")
    print(f"chat service accuracy:          {pct(tally.chat_right, n)}")
    print(f"chat asked back instead:        {pct(tally.chat_clarified, n)}")
    print(f"errors:                         {tally.errors}")
    mean = {k: round(1000 * v / n, 1) if n else 0.0 for k, v in tally.seconds.items()}
    print(f"mean time a turn: assist {mean['assist']} ms, chat {mean['chat']} ms")
    figures = {
        "first_turns": n,
        "assist_service_accuracy": tally.assist_right / n if n else 0.0,
        "assist_in_reach": tally.assist_in_reach / n if n else 0.0,
        "assist_answered": tally.assist_answered / n if n else 0.0,
        "chat_service_accuracy": tally.chat_right / n if n else 0.0,
        "chat_clarified": tally.chat_clarified / n if n else 0.0,
        "errors": tally.errors,
        "mean_ms": mean,
    }
    if args.json_out:
        args.json_out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print("SUMMARY " + " ".join(f"{k}={v}" for k, v in figures.items() if not isinstance(v, dict)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
