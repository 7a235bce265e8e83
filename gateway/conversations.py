"""One citizen turn on any channel: to the agent while a person holds the conversation, else to
the bot; a `handoff` reply puts the conversation in the agents' queue (or, out of hours,
offers a callback). The web chat and LINE both answer through here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from typing import Any

import psycopg
from redis.exceptions import RedisError

from contract.replies import (
    AGENT,
    ANSWER,
    CALLBACK,
    CARD,
    CLARIFY,
    FORM,
    GOVERNMENT_HOTLINE,
    HANDOFF,
    KIND,
    OFFICE_HOURS,
    OUT_OF_SCOPE,
    QUEUE_POSITION,
    SERVICE_ID,
    TOPIC,
    WITH_AGENT,
)
from gateway.envelope import BotTurn, parse_turn
from gateway.rasa_client import RasaClient, RasaUnavailable
from privacy import masked_logger
from staff.handoff import HandoffDesk, Held
from staff.hours import OfficeHours

log = masked_logger(__name__)

# Whether a person holds the conversation is asked again this many times while the staff database
# restarts (a second or so), so that the citizen's turn is answered rather than lost.
HELD_TRIES = 4

# The slots a summary shows an agent: what the citizen told the bot about themselves.
DETAIL_SLOTS = ("age", "vehicle", "person", "validity_years")
# The bot turns whose text a summary calls "what the bot answered".
SUMMARY_KINDS = (ANSWER, CLARIFY, FORM, OUT_OF_SCOPE)

# Rasa's own record of the handoff: while paused it predicts nothing; after the resume the
# next prediction starts from action_listen with no old context ("as if fresh").
PAUSE_EVENTS: list[dict[str, Any]] = [{"event": "pause"}]
RESUME_EVENTS: list[dict[str, Any]] = [
    {"event": "resume"},
    {"event": "reset_slots"},
    {"event": "action", "name": "action_listen"},
]


def queue_text(position: int) -> str:
    if position <= 1:
        return "ตอนนี้คุณเป็นคิวถัดไปค่ะ รอสักครู่นะคะ"
    return f"ตอนนี้คุณอยู่คิวที่ {position} ค่ะ รอสักครู่นะคะ"


def closed_text(hours: OfficeHours, callback_form: bool) -> str:
    text = f"ขณะนี้อยู่นอกเวลาทำการของเจ้าหน้าที่ค่ะ (เวลาทำการ {hours.describe_th()})"
    if callback_form:
        return text + " ฝากชื่อและเบอร์โทรไว้ให้เจ้าหน้าที่โทรกลับได้ค่ะ"
    return text + f" หรือโทรสายด่วน {GOVERNMENT_HOTLINE} ได้ตลอด 24 ชั่วโมงค่ะ"


def no_desk_text() -> str:
    # No staff side (its PostgreSQL or Redis is missing: gateway/staff_off.py): the hotline instead.
    return f"ตอนนี้ยังไม่มีเจ้าหน้าที่ตอบทางแชตค่ะ โทรสายด่วน {GOVERNMENT_HOTLINE} ได้ตลอด 24 ชั่วโมงค่ะ"


def summarize(tracker: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What an agent needs at a glance (service, topic, details, the bot's last real answer) and
    the transcript, from Rasa's tracker. The citizen's text is masked by the desk when stored;
    the bot's comes from the catalog."""
    slots = tracker.get("slots") or {}
    transcript: list[dict[str, Any]] = []
    turn_texts: list[str] = []
    last_answer = None
    # The Thai name agents read, from the last answer's card (the slot holds only the id).
    service_name = None
    for event in tracker.get("events") or []:
        kind, text = event.get("event"), event.get("text")
        if kind == "user":
            turn_texts = []
        custom = (event.get("data") or {}).get("custom") if kind == "bot" else None
        # The envelope closes a bot turn: its texts are the answer unless the turn was itself
        # the handoff (or small talk).
        if isinstance(custom, dict) and custom.get(KIND) in SUMMARY_KINDS and turn_texts:
            last_answer = "\n".join(turn_texts)
        if isinstance(custom, dict) and isinstance(custom.get(CARD), dict) and custom[CARD].get("title"):
            service_name = custom[CARD]["title"]
        if kind not in ("user", "bot") or not isinstance(text, str) or not text.strip():
            continue
        if kind == "user" and text.startswith("/"):
            # A button's payload: show which intent the citizen chose, not the raw payload.
            text = "[กดปุ่ม] " + text[1:].split("{", 1)[0]
        if kind == "bot":
            turn_texts.append(text)
        transcript.append(
            {
                "from": "citizen" if kind == "user" else "bot",
                "text": text,
                "at": _timestamp(event.get("timestamp")),
            }
        )
    summary = {
        SERVICE_ID: slots.get("service"),
        "service_name": service_name if slots.get("service") else None,
        TOPIC: slots.get("topic"),
        "details": {k: slots[k] for k in DETAIL_SLOTS if slots.get(k) not in (None, "")},
        "bot_answer": last_answer,
    }
    return summary, transcript


def _timestamp(value: object) -> str | None:
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC).isoformat()
    return None


class Conversations:
    def __init__(self, rasa: RasaClient, desk: HandoffDesk | None, hours: OfficeHours) -> None:
        self._rasa = rasa
        self._desk = desk
        self.hours = hours

    async def turn(self, sender: str, channel: str, text: str, metadata: dict[str, Any]) -> BotTurn:
        """The citizen's message, answered; raises RasaUnavailable when the bot cannot be reached."""
        held = await self._held(sender)
        if held is not None:
            await self._desk.citizen_message(held, text)
            return await self.with_agent(held)
        turn = parse_turn(await self._rasa.send(sender, text, metadata))
        if turn.kind == HANDOFF:
            turn = await self._hand_over(sender, channel, turn)
        return turn

    async def _held(self, sender: str) -> Held | None:
        if self._desk is None:
            return None
        for attempt in range(1, HELD_TRIES + 1):
            try:
                return await self._desk.held(sender)
            except psycopg.OperationalError:
                if attempt == HELD_TRIES:
                    raise
                log.warning(
                    "staff database unreachable; asking again whether a person holds the conversation"
                )
                await asyncio.sleep(0.25 * attempt)
        return None

    async def with_agent(self, held: Held) -> BotTurn:
        envelope: dict[str, Any] = {KIND: WITH_AGENT, AGENT: held.agent_name}
        if held.status == "waiting":
            envelope[QUEUE_POSITION] = await self._desk.position(held.id)
        return BotTurn(envelope=envelope)

    async def _hand_over(self, sender: str, channel: str, turn: BotTurn) -> BotTurn:
        envelope = dict(turn.envelope or {})
        if self._desk is None:
            envelope[CALLBACK] = False
            return dataclasses.replace(turn, texts=[*turn.texts, no_desk_text()], envelope=envelope)
        if not self.hours.is_open():
            # The web page shows a form; on LINE the citizen writes the number in the chat.
            callback = channel in ("web", "line")
            envelope.update({OFFICE_HOURS: self.hours.describe_th(), CALLBACK: callback})
            return dataclasses.replace(
                turn, texts=[*turn.texts, closed_text(self.hours, callback)], envelope=envelope
            )
        try:
            summary, transcript = summarize(await self._rasa.tracker(sender))
        except RasaUnavailable:
            log.warning("no tracker for the handoff of %s; queued without a summary", sender[:12])
            summary, transcript = {SERVICE_ID: envelope.get(SERVICE_ID), TOPIC: None, "details": {}}, []
        try:
            held, position = await self._desk.open(sender, channel, summary, transcript)
        except (psycopg.Error, RedisError, OSError):
            # The desk's database or its live events restarting: the citizen is given the hotline now
            # rather than no answer at all.
            log.exception("the handoff of %s could not be queued; pointed to the hotline", sender[:12])
            return dataclasses.replace(
                turn, texts=[*turn.texts, no_desk_text()], envelope={**envelope, CALLBACK: False}
            )
        try:
            await self._rasa.append_events(sender, PAUSE_EVENTS)
        except RasaUnavailable:
            # The gateway's routing does not depend on it: the pause is Rasa's record of the handoff.
            log.warning("could not record the pause of %s in the tracker", sender[:12])
        envelope[QUEUE_POSITION] = position
        log.info("conversation %s handed over, queue position %d", held.id, position)
        return dataclasses.replace(turn, texts=[*turn.texts, queue_text(position)], envelope=envelope)

    async def request_callback(self, sender: str, channel: str, name: str, phone: str, note: str) -> int:
        """Store an out-of-hours callback request with what the bot knows of the conversation."""
        summary: dict[str, Any] = {}
        try:
            summary, _ = summarize(await self._rasa.tracker(sender))
        except RasaUnavailable:
            log.warning("no tracker for the callback request of %s", sender[:12])
        return await self._desk.request_callback(sender, channel, name, phone, note, summary)

    async def resume_bot(self, sender: str) -> None:
        """Tell Rasa the bot answers again (before the desk lets the citizen's messages through)."""
        await self._rasa.append_events(sender, RESUME_EVENTS)
