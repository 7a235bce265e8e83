"""A candidate model's whole life on a stack of its own (docs/agency.md), about 10-15 minutes.

catalog, action server, model server, Rasa (two workers), gateway and trainer are started by
scripts/stack on free ports, with their own run folder and databases, so that deploying here
changes no other stack's model. Over the gateway's HTTP API, an agency (dlt):

1. submits questions about vehicle tax labelled as a new driving licence: the gate refuses them
   (conflicts, without training) and the live model stays the one it was;
2. submits a new way of asking about vehicle tax that the live model does not understand: the
   candidate trains in the background, progress visible, and passes the gate;
3. deploys it while four citizens chat over Rasa's REST channel: the deploy answers 200 once every
   Rasa worker serves the new model, no citizen gets an error, every message gets its reply;
4. and the chat then understands a variant of the new phrasing that none of the examples has.

The questions are written for this test.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from support import free_port, services_python

pytestmark = [pytest.mark.e2e, pytest.mark.needs_model, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "scripts" / "stack"
MODEL = REPO / "models" / "thai-eservice.tar.gz"
# The staff database of this run only (two runs at once must not drop each other's); the tracker
# database keeps its name (its RabbitMQ exchange and queue are named after it).
STAFF_DB = f"staff_test_candidates_{secrets.token_hex(3)}"
TRACKER_DB = "rasa_test_candidates"
RASA_TOKEN = "candidates-test-rasa-token"
REST_TOKEN = "candidates-test-rest-token"
# Candidate training, the gate's regression set and its cross-validation, on a busy machine.
CANDIDATE_TIMEOUT = 1800
# Another stack's settings, not this one's (scripts/stack derives them from the ports and the run folder);
# and no machine lock for the trainer: the test itself may run under it (flock ... pytest).
NOT_PASSED = ("CATALOG_URL", "ACTION_ENDPOINT_URL", "RASA_URL", "MODEL_SERVER_URL", "RUN_DIR", "MODELS_PORT",
              "STACK_ENDPOINTS", "CATALOG_DATABASE_URL", "TRAINER_LOCK_FILE")

SERVICE = "vehicle-tax"
TOPIC = "fee"
# A way of naming the annual vehicle tax (the sticker on the windscreen) that no training example
# and no catalog name has.
NEW_PHRASING = [
    "สติกเกอร์ติดกระจกหน้ารถหมดอายุแล้ว ต้องจ่ายกี่บาท",
    "แผ่นสติกเกอร์หน้ากระจกรถปีนี้ราคาเท่าไหร่",
    "ต่อสติกเกอร์กระจกรถเก๋งเสียเงินเท่าไร",
    "สติกเกอร์กระจกรถกระบะใกล้หมด ค่าต่อเท่าไหร่ครับ",
    "สติกเกอร์บนกระจกรถมอไซค์ต้องจ่ายปีละกี่บาท",
    "จะเปลี่ยนสติกเกอร์กระจกรถประจำปีต้องเสียเงินไหม",
]
UNSEEN_VARIANT = "สติกเกอร์ที่กระจกรถตู้หมดอายุ ต้องเสียค่าอะไรเท่าไหร่คะ"
CHATTER = [
    "สวัสดีค่ะ",
    "ทำพาสปอร์ตใช้เอกสารอะไรบ้าง",
    "ต่อใบขับขี่ออนไลน์ได้ไหม",
    "เบี้ยผู้สูงอายุได้เดือนละเท่าไหร่",
    "ขอบคุณค่ะ",
]


def letters(prefix: str) -> str:
    # Letters only: the channel stores a sender id that reads like a phone number under a digest.
    return prefix + "".join(secrets.choice(string.ascii_lowercase) for _ in range(16))


def _admin_url(database: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{database}"


def _drop(name: str) -> None:
    with psycopg.connect(_admin_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Stack:
    env: dict[str, str]
    run_dir: Path
    gateway: str
    rasa: str
    rest_token: str
    headers: dict[str, str] = field(default_factory=dict)

    def rest_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.rest_token}"} if self.rest_token else {}

    def rasa_model_id(self) -> str | None:
        answer = httpx.get(f"{self.rasa}/status", params={"token": RASA_TOKEN}, timeout=10,
                           headers={"Connection": "close"})
        return answer.json().get("model_id") if answer.status_code == 200 else None

    def say(self, client: httpx.Client, sender: str, text: str) -> list[dict[str, Any]]:
        answer = client.post(f"{self.rasa}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                             headers=self.rest_headers())
        answer.raise_for_status()
        return answer.json()

    def envelope(self, text: str) -> dict[str, Any]:
        with httpx.Client(timeout=60) as client:
            messages = self.say(client, letters("cand-"), text)
        return next(m["custom"] for m in messages if "custom" in m)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not MODEL.exists():
        pytest.skip(f"no trained model at {MODEL}: make train")
    run_dir = tmp_path_factory.mktemp("candidates-stack")
    ports = {name: str(free_port()) for name in
             ("CATALOG_PORT", "ACTIONS_PORT", "RASA_PORT", "GATEWAY_PORT", "MODELS_PORT", "ANALYTICS_PORT")}
    env = {k: v for k, v in os.environ.items() if k not in NOT_PASSED}
    env.update(ports, RUN_DIR=str(run_dir), TRACKER_DB_NAME=TRACKER_DB, STAFF_DB_URL=_admin_url(STAFF_DB),
               RASA_TOKEN=RASA_TOKEN, REST_TOKEN=REST_TOKEN, SANIC_WORKERS="2", STACK_TIMEOUT="600")
    _drop(STAFF_DB)
    # analytics too: it consumes the RabbitMQ queue Rasa publishes this stack's events to.
    names = ["catalog", "actions", "models", "rasa", "gateway", "trainer", "analytics"]
    try:
        up = subprocess.run([str(STACK), "up", *names], cwd=REPO, env=env, capture_output=True, text=True)
        if up.returncode != 0:
            raise RuntimeError(f"scripts/stack up failed ({run_dir}):\n{up.stdout}\n{up.stderr}")
        username, password = f"cand-dlt-{secrets.token_hex(3)}", secrets.token_urlsafe(16)
        made = subprocess.run([services_python(), "-m", "staff.users", username, "agency", "dlt"], cwd=REPO,
                              env={**env, "USER_PASSWORD": password}, capture_output=True, text=True)
        assert made.returncode == 0, made.stderr
        gateway = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
        login = httpx.post(f"{gateway}/api/auth/login", json={"username": username, "password": password})
        assert login.status_code == 200, login.text
        yield Stack(env, run_dir, gateway, f"http://127.0.0.1:{ports['RASA_PORT']}", REST_TOKEN,
                    {"Authorization": f"Bearer {login.json()['token']}"})
    finally:
        subprocess.run([str(STACK), "down"], cwd=REPO, env=env, capture_output=True, text=True)
        _drop(STAFF_DB)


def submit(stack: Stack, service_id: str, topic: str, texts: list[str]) -> str:
    answer = httpx.post(f"{stack.gateway}/api/agency/examples", headers=stack.headers, timeout=30,
                        json={"service_id": service_id, "topic": topic, "texts": texts})
    assert answer.status_code == 202, answer.text
    return answer.json()["candidate"]


def candidate(stack: Stack, candidate_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{stack.gateway}/api/agency/candidates/{candidate_id}", headers=stack.headers,
                       timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_until_done(stack: Stack, candidate_id: str, timeout: float) -> tuple[dict[str, Any], list[tuple]]:
    """The candidate once passed or failed, and the (status, step, progress) seen on the way."""
    seen: list[tuple] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = candidate(stack, candidate_id)
        state = (body["status"], body["step"], body["progress"])
        if not seen or seen[-1] != state:
            seen.append(state)
        if body["status"] in ("passed", "failed"):
            return body, seen
        time.sleep(3)
    log = (stack.run_dir / "trainer.log").read_text(encoding="utf-8", errors="replace")[-3000:]
    raise AssertionError(f"candidate {candidate_id} not done after {timeout:.0f}s: {seen}\n{log}")


class Citizen(threading.Thread):
    """Chats without pause over Rasa's REST channel (one kept-alive connection, as the gateway's)."""

    def __init__(self, stack: Stack, n: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.stack, self.stop = stack, stop
        self.sender = letters(f"cand-user-{'abcd'[n]}-")
        self.sent = 0
        self.answered = 0
        self.errors: list[str] = []
        self.slowest = 0.0

    def run(self) -> None:
        with httpx.Client(timeout=60) as client:
            while not self.stop.is_set():
                text = CHATTER[self.sent % len(CHATTER)]
                self.sent += 1
                started = time.monotonic()
                try:
                    messages = self.stack.say(client, self.sender, text)
                except (httpx.HTTPError, ValueError) as exc:
                    self.errors.append(f"{text!r}: {exc!r}")
                    continue
                self.slowest = max(self.slowest, time.monotonic() - started)
                if any("custom" in m for m in messages):
                    self.answered += 1
                else:
                    self.errors.append(f"{text!r}: no reply envelope in {messages}")
                time.sleep(0.2)

    def turns_in_tracker(self) -> int:
        answer = httpx.get(f"{self.stack.rasa}/conversations/{self.sender}/tracker",
                           params={"token": RASA_TOKEN}, timeout=30)
        return sum(e["event"] == "user" for e in answer.json()["events"])


def test_a_candidate_is_gated_deployed_without_downtime_and_understood(stack: Stack) -> None:
    seed_model = stack.rasa_model_id()
    assert seed_model
    # The live model does not know the new phrasing (it may ask back, or guess another service).
    assert stack.envelope(UNSEEN_VARIANT).get("service_id") != SERVICE

    # 1. Vehicle tax questions from the training data, labelled as a new driving licence: refused untrained.
    from staff.candidates.trainingdata import read_examples

    harmful_texts = [e.text for e in read_examples(REPO / "data")
                     if e.service == SERVICE and e.source == "tax.yml" and len(e.text) > 20][:4]
    harmful = submit(stack, "driving-licence-new", "fee", harmful_texts)
    good = submit(stack, SERVICE, TOPIC, NEW_PHRASING)

    refused, _ = wait_until_done(stack, harmful, 300)
    assert (refused["status"], refused["step"]) == ("failed", "conflicts")
    conflicts = refused["report"]["conflicts"]
    assert {c["text"] for c in conflicts if c["conflicts_with"] == SERVICE} == set(harmful_texts)
    assert refused["report"]["changed"] == []
    assert not (stack.run_dir / "candidates" / harmful / "model.tar.gz").exists()  # never trained
    deploy = httpx.post(f"{stack.gateway}/api/agency/candidates/{harmful}/deploy", headers=stack.headers,
                        timeout=30)
    assert deploy.status_code == 409
    assert stack.rasa_model_id() == seed_model

    # 2. The new phrasing: trained in the background, progress visible, through the gate.
    passed, seen = wait_until_done(stack, good, CANDIDATE_TIMEOUT)
    report = passed["report"]
    assert passed["status"] == "passed", json.dumps(report, ensure_ascii=False)[:3000]
    statuses = [s for s, _, _ in seen]
    assert "training" in statuses and "testing" in statuses, seen
    progress = [p for _, _, p in seen]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert report["conflicts"] == [] and report["gate"] == {"passed": True, "reasons": []}
    assert report["before"]["regression"]["questions"] >= 120
    for side in ("before", "after"):
        assert report[side]["cv"]["folds"] == 3 and report[side]["cv"]["service_accuracy"] > 0.8
    assert report["before"]["model_id"] == seed_model
    assert stack.rasa_model_id() == seed_model  # passing is not deploying

    # 3. Deploy while four citizens chat.
    stop = threading.Event()
    citizens = [Citizen(stack, n, stop) for n in range(4)]
    for citizen in citizens:
        citizen.start()
    time.sleep(3)
    started = time.monotonic()
    deployed = httpx.post(f"{stack.gateway}/api/agency/candidates/{good}/deploy", headers=stack.headers,
                          timeout=900)
    deploy_seconds = time.monotonic() - started
    assert deployed.status_code == 200, deployed.text
    assert deployed.json()["model_id"] == passed["model_id"]
    # Every worker serves the new model now: any of them answers with it.
    assert {stack.rasa_model_id() for _ in range(12)} == {passed["model_id"]}
    time.sleep(3)
    stop.set()
    for citizen in citizens:
        citizen.join(90)
    errors = [e for c in citizens for e in c.errors]
    assert errors == [], errors
    for citizen in citizens:
        assert citizen.sent == citizen.answered > 5
        assert citizen.turns_in_tracker() == citizen.sent
    print(f"deploy: {deploy_seconds:.0f}s; citizens' turns {sum(c.sent for c in citizens)}, "
          f"slowest {max(c.slowest for c in citizens):.2f}s")
    assert candidate(stack, good)["status"] == "deployed" and candidate(stack, good)["live"]

    # 4. The chat understands a way of asking that none of the examples has.
    envelope = stack.envelope(UNSEEN_VARIANT)
    assert envelope.get("service_id") == SERVICE, envelope

    # Deploying it again: already served, 200.
    again = httpx.post(f"{stack.gateway}/api/agency/candidates/{good}/deploy", headers=stack.headers,
                       timeout=300)
    assert again.status_code == 200
