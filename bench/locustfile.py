"""Locust users who play conversations through the web chat, as citizens do (bench/load.py runs it).

Each user takes a conversation of the file LOAD_DATA (JSON Lines with `turns[].text`, the dev set:
read here at run time, never copied), sends its turns one after the other under a fresh sender,
with no pause between them, and then takes another. Every turn is written to LOAD_LOG (one JSON
line: sender, turn index, HTTP status, the reply's envelope kind, whether it names the hotline,
start and end times), from which bench/load.py counts lost turns and checks the tracker store
for turns stored twice. A turn is a failure to Locust unless it is answered with an envelope.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import time
from typing import Any

from locust import FastHttpUser, constant, task

from contract.replies import GOVERNMENT_HOTLINE


def _conversations(path: str) -> list[list[str]]:
    cases = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                turns = [t["text"] for t in json.loads(line).get("turns", []) if t.get("text")]
                if turns:
                    cases.append(turns)
    return cases


CONVERSATIONS = _conversations(os.environ["LOAD_DATA"])
LOG = open(os.environ["LOAD_LOG"], "a", encoding="utf-8")  # noqa: SIM115 (open for the whole run)


class Citizen(FastHttpUser):
    wait_time = constant(0)
    # The gateway's time for a turn is 10 s; a reply later than this is lost all the same.
    network_timeout = 30.0
    connection_timeout = 5.0

    @task
    def conversation(self) -> None:
        turns = random.choice(CONVERSATIONS)
        # 128 random bits, as the page makes them (gateway/web/routes.py SENDER_PATTERN).
        sender = secrets.token_hex(16)
        for index, text in enumerate(turns):
            record: dict[str, Any] = {"sender": sender, "turn": index, "start": time.time()}
            with self.client.post(
                "/web/chat", json={"sender": sender, "message": text}, name="/web/chat", catch_response=True
            ) as response:
                record["end"] = time.time()
                record["status"] = response.status_code
                kind, hotline = None, False
                if response.status_code == 200:
                    try:
                        body = response.json()
                        kind = (body.get("envelope") or {}).get("kind")
                        texts = " ".join(m.get("text") or "" for m in body.get("messages") or [])
                        hotline = GOVERNMENT_HOTLINE in texts
                    except (ValueError, AttributeError):
                        kind = None
                record["kind"], record["hotline"] = kind, hotline
                if kind:
                    response.success()
                else:
                    response.failure(f"no answer (HTTP {response.status_code})")
            LOG.write(json.dumps(record) + "\n")
            LOG.flush()
            if not kind:
                return  # a citizen whose turn was lost does not go on with the conversation
