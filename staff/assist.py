"""Agent assist (issue 11): what the assistant would answer to a caller's question, for an agent on the phone.

    result = await assist("ทำพาสปอร์ตใหม่ต้องใช้อะไรบ้าง")
    {"understanding": {"service_id": "passport", "topic": "documents", "confidence": 0.91},
     "answer": {"text": "...", "source_url": "https://...", "updated": "2026-11-01"} | None,
     "alternatives": [{"service_id": "...", "topic": "...", "confidence": 0.04}, ...],
     "card": {"title": "...", "agency": "...", "topic_label": "...", "facts": [...], ...} | None}

Two calls, and neither touches a conversation:
- Rasa's `POST /model/parse` reads the text. It has no tracker, so ConversationContext
  leaves the rankings as the words alone make them: a call starts with no service discussed.
- The action server's webhook runs `action_answer_service`, the action the chat runs, on a
  tracker made up for the call (its latest message is the parse). The agent reads out the
  chat's own answer, and Rasa never hears of it: nothing is written into any tracker.

When the answer depends on a personal detail the caller did not give (an age, a vehicle),
the chat would ask for it; here the action is told that the detail form has already run,
so it answers as the chat does after the form: every amount, for the agent to pick from.
A detail the caller did give ("แม่อายุ 75") is in the parse's entities and fills its slot
as in the chat (domain.yml maps those slots from the entity of the same name).

An alternative the agent clicks comes back as `service_id` (and `topic`): the answer is then
about that service (and topic), as when a citizen presses a button the chat offers.

`confidence` is how sure the NLU is of the service, as in the chat's envelope; an
alternative's is how likely the NLU finds its service and its topic together (the product
of the two probabilities), so services and topics rank in one list.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import httpx

from contract.replies import (
    ANSWER,
    ASK_INTENT,
    CARD,
    CONFIDENCE,
    DEFAULT_TOPIC,
    ERROR,
    FOLLOW_UPS,
    KIND,
    SERVICE_ID,
    SOURCE_URL,
    TOPIC,
    UPDATED,
)
from gateway.config import Settings
from gateway.rasa_client import RasaClient, RasaUnavailable
from privacy import mask, masked_logger

log = masked_logger(__name__)

ANSWER_ACTION = "action_answer_service"
# actions/service_actions.py: the form that asks for a personal detail, and the slot that starts it.
DETAIL_FORM = "detail_form"
NEEDS_DETAIL = "needs_detail"
# domain.yml: slots filled from the entity of the same name in the citizen's message.
DETAIL_SLOTS = ("age", "vehicle", "person", "validity_years")
# Every slot of domain.yml, empty unless the parse gives a detail.
SLOTS = ("service", "topic", NEEDS_DETAIL, *DETAIL_SLOTS, "requested_slot")
# Rasa's own intent when no intent is sure enough (config.yml, FallbackClassifier).
FALLBACK_INTENT = "nlu_fallback"
MAX_ALTERNATIVES = 4
# Below this an alternative is not likely (it would show as 0.0): a list of noise helps no one.
MIN_ALTERNATIVE_CONFIDENCE = 0.001
# The last line of every answer (actions/answers.py, compose); the agent sees source and date beside it.
SOURCE_LINE = "ที่มา: {url} (ข้อมูล ณ {updated})"

RASA_DOWN = "ระบบผู้ช่วยยังอ่านคำถามไม่ได้ในขณะนี้ (Rasa ไม่ตอบ) ลองอีกครั้ง หรือตอบจากเว็บไซต์ของหน่วยงาน"
ACTIONS_DOWN = "ระบบผู้ช่วยยังเรียบเรียงคำตอบไม่ได้ในขณะนี้ (action server ไม่ตอบ) ลองอีกครั้ง หรือตอบจากเว็บไซต์ของหน่วยงาน"
CATALOG_DOWN = "ระบบข้อมูลบริการขัดข้องชั่วคราว ลองอีกครั้ง หรือตอบจากเว็บไซต์ของหน่วยงาน"


class EmptyQuestion(ValueError):
    """Nothing to ask: the text is empty or only spaces."""


class AssistUnavailable(Exception):
    """Rasa, the action server or the catalog behind it did not answer; `message` says so in Thai."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(reason)
        self.message = message


def _services(parse: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The service ranking without the follow-up labels (`none`, `previous`): services only."""
    ranking = (parse.get("service") or {}).get("ranking") or []
    return [r for r in ranking if r.get("name") and r["name"] not in FOLLOW_UPS]


def _topics(parse: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [r for r in (parse.get("topic") or {}).get("ranking") or [] if r.get("name")]


def understood_service(parse: Mapping[str, Any], service_id: str | None = None) -> str | None:
    """The service to answer about: the agent's choice, else the NLU's verdict.

    The verdict is the chat's: the top service, also when it is not far enough ahead for the
    chat to answer without asking back (the agent sees the confidence and the runners-up);
    none when the text names no service (`none` wins) or is not about a service at all (a
    greeting, out of scope) and no service is sure.
    """
    if service_id:
        return service_id
    verdict = parse.get("service") or {}
    name = verdict.get("name")
    if not name or name in FOLLOW_UPS:
        return None
    intent = (parse.get("intent") or {}).get("name")
    if intent in (ASK_INTENT, FALLBACK_INTENT) or not verdict.get("ambiguous"):
        return str(name)
    return None


def alternatives(
    parse: Mapping[str, Any], service: str | None, topic: str, *, chosen_service: bool = False,
    chosen_topic: bool = False, limit: int = MAX_ALTERNATIVES,
) -> list[dict[str, Any]]:
    """Other likely (service, topic) pairs: the next services on this topic, the next topics of
    this service, ranked together by the product of their probabilities. A service or topic the
    agent chose is certain: the others rank by their own probability."""
    services = {r["name"]: float(r.get("confidence") or 0.0) for r in _services(parse)}
    topics = {r["name"]: float(r.get("confidence") or 0.0) for r in _topics(parse)}
    p_topic = 1.0 if chosen_topic else topics.get(topic, 0.0)
    pairs = [(s, topic, p * p_topic) for s, p in services.items() if s != service]
    if service:
        p_service = 1.0 if chosen_service else services.get(service, 0.0)
        pairs += [(service, t, p_service * p) for t, p in topics.items() if t != topic]
    likely = sorted((pair for pair in pairs if pair[2] >= MIN_ALTERNATIVE_CONFIDENCE), key=lambda p: -p[2])
    return [{SERVICE_ID: s, TOPIC: t, CONFIDENCE: round(c, 3)} for s, t, c in likely[:limit]]


def _slots(parse: Mapping[str, Any]) -> dict[str, Any]:
    slots: dict[str, Any] = dict.fromkeys(SLOTS)
    for entity in parse.get("entities") or []:
        name = entity.get("entity")
        if name in DETAIL_SLOTS and entity.get("value") is not None and slots[name] is None:
            slots[name] = entity["value"]
    return slots


def tracker_for(
    parse: Mapping[str, Any], service: str, *, topic: str | None = None, form_ran: bool = False
) -> dict[str, Any]:
    """A tracker for one action call: a new conversation whose only message is the parse, read as
    a question about `service` (sure, so the action answers instead of asking back), and about
    `topic` when the agent chose one (as a button's payload names it: an entity)."""
    services = {r["name"]: float(r.get("confidence") or 0.0) for r in _services(parse)}
    verdict = parse.get("service") or {}
    confidence = services.get(service, float(verdict.get("confidence") or 0.0))
    intent = parse.get("intent") or {}
    message = {
        **parse,
        "intent": {"name": ASK_INTENT, "confidence": intent.get("confidence", 1.0)},
        "service": {**verdict, "name": service, "confidence": confidence, "ambiguous": False},
    }
    if topic:
        message["entities"] = [*(parse.get("entities") or []), {"entity": "topic", "value": topic}]
    # action_answer_service answers with what is known once the detail form ran for this message.
    events = [{"event": "action", "name": DETAIL_FORM}] if form_ran else []
    return {
        "sender_id": f"assist-{uuid.uuid4().hex}",
        "slots": _slots(parse),
        "latest_message": message,
        "latest_action_name": "action_listen",
        "events": events,
        "paused": False,
        "followup_action": None,
        "active_loop": {},
    }


def _envelope(responses: list[dict[str, Any]]) -> dict[str, Any] | None:
    found = None
    for response in responses:
        custom = response.get("custom")
        if isinstance(custom, dict) and KIND in custom:
            found = custom
    return found


def answer_text(responses: list[dict[str, Any]], envelope: Mapping[str, Any]) -> str:
    """The texts of the answer, without the source line: the agent reads it out, the source
    and date are shown beside it."""
    text = "\n".join(r["text"] for r in responses if isinstance(r.get("text"), str) and r["text"])
    source = SOURCE_LINE.format(url=envelope.get(SOURCE_URL), updated=envelope.get(UPDATED))
    return text.removesuffix(source).rstrip()


class Assistant:
    """Rasa's parse and the action server's answer, on one pair of HTTP clients."""

    def __init__(
        self,
        rasa: RasaClient,
        actions_url: str,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._rasa = rasa
        self._actions_url = actions_url
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)))
        self._rasa_version: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Assistant:
        rasa = RasaClient(settings.rasa_url, timeout=settings.rasa_timeout, token=settings.rasa_token)
        return cls(rasa, settings.actions_url, timeout=settings.rasa_timeout)

    async def aclose(self) -> None:
        await self._client.aclose()
        await self._rasa.aclose()

    async def _run_action(self, tracker: dict[str, Any]) -> dict[str, Any]:
        if self._rasa_version is None:
            # The action server warns about a call that does not say which Rasa makes it.
            self._rasa_version = await self._rasa.version() or ""
        # rasa-sdk's webhook call, as Rasa makes it (rasa_sdk/executor.py); the action reads no domain.
        call: dict[str, Any] = {
            "next_action": ANSWER_ACTION, "sender_id": tracker["sender_id"], "tracker": tracker, "domain": {}
        }
        if self._rasa_version:
            call["version"] = self._rasa_version
        try:
            response = await self._client.post(self._actions_url, json=call)
            response.raise_for_status()
            result = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise AssistUnavailable(ACTIONS_DOWN, f"action server: {type(exc).__name__}") from exc
        if not isinstance(result, dict):
            raise AssistUnavailable(ACTIONS_DOWN, "action server: the reply is not an object")
        return result

    async def assist(
        self, text: str, service_id: str | None = None, topic: str | None = None
    ) -> dict[str, Any]:
        # Masked as the chat's channel masks a message before Rasa sees it (bot/channels/rest.py).
        question = mask(text or "").strip()
        if not question:
            raise EmptyQuestion("the caller's question is empty")
        try:
            parse = await self._rasa.parse(question)
        except RasaUnavailable as exc:
            raise AssistUnavailable(RASA_DOWN, str(exc)) from exc
        service = understood_service(parse, service_id or None)
        chosen_topic = topic
        topic = chosen_topic or (parse.get("topic") or {}).get("name") or DEFAULT_TOPIC
        confidence = next((r["confidence"] for r in _services(parse) if r["name"] == service), 0.0)
        answer = card = None
        if service:
            result = await self._run_action(tracker_for(parse, service, topic=chosen_topic))
            if _envelope(result.get("responses") or []) is None and any(
                e.get("name") == NEEDS_DETAIL and e.get("value") for e in result.get("events") or []
            ):
                # The chat would ask for the detail first; answer as it does once the form ran.
                after_form = tracker_for(parse, service, topic=chosen_topic, form_ran=True)
                result = await self._run_action(after_form)
            responses = [r for r in result.get("responses") or [] if isinstance(r, dict)]
            envelope = _envelope(responses) or {}
            if envelope.get(KIND) == ERROR:
                raise AssistUnavailable(CATALOG_DOWN, "the catalog did not answer the action")
            if envelope.get(KIND) == ANSWER:
                # The action may answer a close second topic when the record says nothing on the first.
                topic = envelope.get(TOPIC) or topic
                answer = {"text": answer_text(responses, envelope), "source_url": envelope.get(SOURCE_URL),
                          "updated": envelope.get(UPDATED)}
                card = envelope.get(CARD)
            else:
                log.info("assist: no answer for %s (%s)", service, envelope.get(KIND))
        return {
            "understanding": {SERVICE_ID: service, TOPIC: topic, CONFIDENCE: round(float(confidence), 3)},
            "answer": answer,
            "alternatives": alternatives(
                parse, service, topic, chosen_service=bool(service_id), chosen_topic=bool(chosen_topic)
            ),
            "card": card,
        }


async def assist(
    text: str, service_id: str | None = None, topic: str | None = None, *, assistant: Assistant | None = None
) -> dict[str, Any]:
    """What the assistant understands of `text` and would answer; `service_id` and `topic` are
    the agent's choice (an alternative clicked). Raises EmptyQuestion and AssistUnavailable."""
    if assistant is not None:
        return await assistant.assist(text, service_id, topic)
    own = Assistant.from_settings(Settings.from_env())
    try:
        return await own.assist(text, service_id, topic)
    finally:
        await own.aclose()
