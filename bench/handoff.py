"""The handoff path's speed on a running gateway: a citizen's message to the agent's page, and an
agent's message to the citizen's page, both over the live streams the pages use (SSE).

    python -m bench.handoff --gateway http://127.0.0.1:8000 --rounds 50

Signs in as a benchmark agent made for the run (`python -m staff.users`, a random password),
hands web conversations over and takes them (12 rounds each), times `rounds` messages each way, prints
p50/p95 in milliseconds. Services' environment (httpx).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import secrets
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

import httpx

# Rounds in one conversation before the next: under the gateway's per-sender rate limit.
PER_CONVERSATION = 12


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Stream:
    """Server-Sent Events read in a thread into a queue of (arrival time, event)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, params: dict[str, str] | None = None):
        self.events: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self._open = threading.Event()
        args = (url, headers or {}, params or {})
        threading.Thread(target=self._run, args=args, daemon=True).start()

    def _run(self, url: str, headers: dict[str, str], params: dict[str, str]) -> None:
        with httpx.stream("GET", url, headers=headers, params=params, timeout=None) as response:
            self._open.set()
            for line in response.iter_lines():
                if line.startswith("data:"):
                    self.events.put((time.perf_counter(), json.loads(line[5:])))

    def wait_open(self) -> None:
        if not self._open.wait(10):
            raise RuntimeError("the event stream did not open")
        time.sleep(0.2)  # the server subscribes just after the response starts

    def next_matching(self, predicate: Any, timeout: float = 10) -> float:
        deadline = time.monotonic() + timeout
        while True:
            arrived, event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if predicate(event):
                return arrived


def _one_conversation(
    client: httpx.Client,
    base: str,
    agent: dict[str, str],
    agent_page: Stream,
    rounds: range,
    to_agent: list[float],
    to_citizen: list[float],
) -> bool:
    sender = secrets.token_hex(16)

    def citizen_says(text: str) -> dict[str, Any]:
        return client.post("/web/chat", json={"sender": sender, "message": text}).json()

    if citizen_says("ขอคุยกับเจ้าหน้าที่")["envelope"]["kind"] != "handoff":
        return False
    mine = next(
        c
        for c in client.get("/api/agent/queue", headers=agent).json()["conversations"]
        if c["sender"] == f"web:{sender}"
    )
    client.post(f"/api/agent/conversations/{mine['id']}/take", headers=agent)
    citizen_page = Stream(f"{base}/web/updates/stream", params={"sender": sender})
    citizen_page.wait_open()
    try:
        for n in rounds:
            text = f"ข้อความที่ {n}"
            sent = time.perf_counter()
            citizen_says(text)
            arrived = agent_page.next_matching(
                lambda e, t=text: e.get("type") == "message" and e["message"]["text"] == t
            )
            to_agent.append((arrived - sent) * 1000)
            reply = f"ตอบ {n}"
            sent = time.perf_counter()
            client.post(
                f"/api/agent/conversations/{mine['id']}/messages", json={"text": reply}, headers=agent
            )
            arrived = citizen_page.next_matching(
                lambda e, t=reply: e.get("type") == "message" and e["message"]["text"] == t
            )
            to_citizen.append((arrived - sent) * 1000)
    finally:
        client.post(f"/api/agent/conversations/{mine['id']}/close", json={"outcome": "other"}, headers=agent)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateway", default=os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--rounds", type=int, default=48)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    base = args.gateway.rstrip("/")

    username, password = f"bench-{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    subprocess.run(
        [sys.executable, "-m", "staff.users", username, "agent", "--display-name", "bench"],
        env=os.environ | {"USER_PASSWORD": password},
        check=True,
        capture_output=True,
    )
    token = httpx.post(f"{base}/api/auth/login", json={"username": username, "password": password}).json()[
        "token"
    ]
    agent = {"Authorization": f"Bearer {token}"}
    client = httpx.Client(base_url=base, timeout=30)
    agent_page = Stream(f"{base}/api/agent/events", headers=agent)
    agent_page.wait_open()
    to_agent: list[float] = []
    to_citizen: list[float] = []
    # A fresh conversation for every PER_CONVERSATION rounds: one citizen writing faster than
    # RATE_LIMIT_SENDER (20 a minute by default) would be refused, as a real one would be.
    for first in range(0, args.rounds, PER_CONVERSATION):
        rounds = range(first, min(args.rounds, first + PER_CONVERSATION))
        if not _one_conversation(client, base, agent, agent_page, rounds, to_agent, to_citizen):
            print("the bot did not hand the conversation over; nothing measured", file=sys.stderr)
            return 1

    figures = {
        "rounds": args.rounds,
        "citizen_to_agent_ms": {"p50": statistics.median(to_agent), "p95": _percentile(to_agent, 0.95)},
        "agent_to_citizen_ms": {"p50": statistics.median(to_citizen), "p95": _percentile(to_citizen, 0.95)},
    }
    print(
        f"HANDOFF rounds={args.rounds} "
        f"citizen_to_agent_p50={figures['citizen_to_agent_ms']['p50']:.1f}ms "
        f"p95={figures['citizen_to_agent_ms']['p95']:.1f}ms "
        f"agent_to_citizen_p50={figures['agent_to_citizen_ms']['p50']:.1f}ms "
        f"p95={figures['agent_to_citizen_ms']['p95']:.1f}ms"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
