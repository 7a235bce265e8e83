"""`POST /line/webhook`: verify the signature, answer 200 at once, handle events in the background."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

import phonenumbers
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from linebot.v3.messaging import (
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    Message,
    MessageAction,
    QuickReply,
    QuickReplyItem,
    Sender,
    TextMessage,
)
from linebot.v3.webhook import SignatureValidator
from linebot.v3.webhooks import (
    Event,
    FollowEvent,
    GroupSource,
    JoinEvent,
    MessageEvent,
    PostbackEvent,
    RoomSource,
    TextMessageContent,
    UserMentionee,
    UserSource,
)
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contract.replies import CALLBACK, QUEUE_POSITION, WITH_AGENT
from gateway.config import Settings
from gateway.conversations import Conversations
from gateway.envelope import envelope_summary
from gateway.line import texts
from gateway.line.dedup import SharedRecentIds
from gateway.line.messenger import LineMessenger
from gateway.line.recipients import LineRecipients
from gateway.line.render import MAX_ACTION_LABEL, render_turn, truncate
from gateway.rasa_client import RasaUnavailable
from gateway.ratelimit import RATE_LIMITED_TH, RateLimiter
from gateway.sanitize import plain_text
from privacy import masked_logger
from staff.handoff import HandoffDesk

log = masked_logger(__name__)

NON_TEXT_MESSAGES = frozenset({"sticker", "image", "audio", "video", "file", "location"})
# LINE's user, group and room ids: U, C or R and 32 hex digits.
LINE_ID = re.compile(r"[UCR][0-9a-f]{32}")
# How long after an out-of-hours handoff a phone number written in the chat is a callback request.
CALLBACK_WAIT_SECONDS = 15 * 60


def _callback_key(sender: str) -> str:
    return f"line:callback:{sender}"


# LINE shows a message's sender name instead of the account's; it allows at most 20 characters.
MAX_SENDER_NAME = 20
NOT_CONFIGURED = (
    "The LINE channel is not configured on this gateway: set LINE_CHANNEL_SECRET, "
    "LINE_CHANNEL_ACCESS_TOKEN and PII_KEY. The web chat keeps working."
)


def _chat(source: object) -> tuple[str, str] | None:
    """(chat type, id to push to and to key the conversation on) for a webhook event source, or None
    for an id not shaped as LINE's, which would otherwise go into keys, the database and URLs."""
    if isinstance(source, UserSource):
        chat = "user", source.user_id
    elif isinstance(source, GroupSource):
        chat = "group", source.group_id
    elif isinstance(source, RoomSource):
        chat = "room", source.room_id
    else:
        return None
    return chat if isinstance(chat[1], str) and LINE_ID.fullmatch(chat[1]) else None


def _mentions_bot(message: TextMessageContent) -> bool:
    mention = message.mention
    return bool(mention and any(isinstance(m, UserMentionee) and m.is_self for m in mention.mentionees))


def _strip_bot_mentions(message: TextMessageContent) -> str:
    # Mention offsets count UTF-16 code units, like the LINE clients that produce them.
    units = message.text.encode("utf-16-le")
    spans = sorted(
        (
            (m.index, m.length)
            for m in (message.mention.mentionees if message.mention else [])
            if isinstance(m, UserMentionee) and m.is_self
        ),
        reverse=True,
    )
    for index, length in spans:
        units = units[: index * 2] + units[(index + length) * 2 :]
    return " ".join(units.decode("utf-16-le", errors="ignore").split())


def _greeting() -> TextMessage:
    items = [
        QuickReplyItem(action=MessageAction(label=truncate(example, MAX_ACTION_LABEL), text=example))
        for example in texts.GREETING_EXAMPLES
    ]
    return TextMessage(text=texts.GREETING, quick_reply=QuickReply(items=items))


class LineChannel:
    """Owns the LINE API client and the background tasks that answer webhook events."""

    def __init__(self, settings: Settings, conversations: Conversations, recipients: LineRecipients) -> None:
        self._validator = SignatureValidator(settings.line_channel_secret)
        self._api_client = AsyncApiClient(
            Configuration(host=settings.line_api_base_url, access_token=settings.line_channel_access_token)
        )
        self._messenger = LineMessenger(AsyncMessagingApi(self._api_client))
        self._conversations = conversations
        # Chats are known by a keyed hash of their id; the ids pushes need are kept sealed.
        self._recipients = recipients
        self._delivering = asyncio.Lock()
        # Redeliveries and rate limits are shared with the other gateway processes through Redis.
        self._redis = Redis.from_url(settings.redis_url)
        self._recent = SharedRecentIds(self._redis)
        self._limits = RateLimiter.from_settings(settings)
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._lock_users: dict[str, int] = {}

    def verify(self, body: bytes, signature: str | None) -> bool:
        if not signature:
            return False
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return bool(self._validator.validate(text, signature))

    async def accept(self, payload: dict[str, Any]) -> int:
        """Schedule the payload's new events; returns how many were scheduled."""
        raw_events = payload.get("events")
        if not isinstance(raw_events, list):
            return 0
        scheduled = 0
        for raw in raw_events:
            if not isinstance(raw, dict):
                continue
            event_id = str(raw.get("webhookEventId") or "")
            if event_id and await self._recent.check_and_add(event_id):
                context = raw.get("deliveryContext")
                redelivery = isinstance(context, dict) and bool(context.get("isRedelivery"))
                log.info("skipping already handled event %s (redelivery=%s)", event_id, redelivery)
                continue
            try:
                event = Event.from_dict(raw)
            except Exception:
                # No traceback: the SDK's message repeats the whole event, the citizen's text included.
                log.warning("unparseable %r event %r skipped", str(raw.get("type"))[:40], event_id[:40])
                continue
            if getattr(event, "mode", None) == "standby":
                continue  # another channel module owns the chat right now
            task = asyncio.create_task(self._run(event, event_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            scheduled += 1
        return scheduled

    async def _run(self, event: Event, event_id: str) -> None:
        chat = _chat(getattr(event, "source", None))
        key = chat[1] if chat else event_id
        # One conversation's events are answered in arrival order; different chats run concurrently.
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._lock_users[key] = self._lock_users.get(key, 0) + 1
        try:
            async with lock:
                await self._handle(event, event_id, chat)
        except Exception:
            log.exception("handling LINE event %s failed", event_id)
        finally:
            self._lock_users[key] -= 1
            if not self._lock_users[key]:
                del self._lock_users[key]
                del self._locks[key]

    async def _handle(self, event: Event, event_id: str, chat: tuple[str, str] | None) -> None:
        if chat is None:
            return
        chat_type, chat_id = chat
        reply_token = getattr(event, "reply_token", None)
        # The rate limit is per person: in a group, the member who wrote (when LINE says who).
        who = getattr(getattr(event, "source", None), "user_id", None) or chat_id
        if isinstance(event, FollowEvent):
            await self._messenger.deliver(chat_id, reply_token, [_greeting()], event_id)
        elif isinstance(event, JoinEvent):
            await self._messenger.deliver(
                chat_id, reply_token, [TextMessage(text=texts.GROUP_GREETING)], event_id
            )
        elif isinstance(event, PostbackEvent):
            await self._converse(chat_type, chat_id, reply_token, event.postback.data, event_id, who)
        elif isinstance(event, MessageEvent):
            await self._on_message(event, event_id, chat_type, chat_id, reply_token, who)
        # unfollow, leave, unsend and the rest need no answer

    async def _on_message(
        self,
        event: MessageEvent,
        event_id: str,
        chat_type: str,
        chat_id: str,
        reply_token: str | None,
        who: str,
    ) -> None:
        message = event.message
        in_group = chat_type != "user"
        if isinstance(message, TextMessageContent):
            if in_group:
                if not _mentions_bot(message):
                    return
                text = _strip_bot_mentions(message)
            else:
                text = message.text.strip()
            if not text:
                await self._messenger.deliver(chat_id, reply_token, [_greeting()], event_id)
                return
            await self._converse(chat_type, chat_id, reply_token, text, event_id, who)
        elif message.type in NON_TEXT_MESSAGES and not in_group:
            await self._messenger.deliver(chat_id, reply_token, [TextMessage(text=texts.TEXT_ONLY)], event_id)

    async def _admitted(self, chat_id: str, reply_token: str | None, event_id: str, who: str) -> bool:
        """Within the user's rate limit; a user over it is told so once per window, and the
        webhook still answers LINE 200 (a refusal would only make LINE send the batch again)."""
        verdict = await self._limits.admit("line", "sender", who)
        if verdict.allowed:
            return True
        log.info("LINE event %s over the rate limit; not answered", event_id)
        if verdict.item is not None and await self._limits.first_refusal("line", who, verdict.item):
            await self._messenger.deliver(chat_id, reply_token, [TextMessage(text=RATE_LIMITED_TH)], event_id)
        return False

    async def _converse(
        self, chat_type: str, chat_id: str, reply_token: str | None, text: str, event_id: str, who: str
    ) -> None:
        if not await self._admitted(chat_id, reply_token, event_id, who):
            return
        text = plain_text(text)
        loading = None
        if chat_type == "user":
            loading = asyncio.create_task(self._messenger.show_loading(chat_id, event_id))
        messages: list[Message]
        sender = self._recipients.sender(chat_id)
        if await self._took_callback(sender, chat_id, reply_token, text, event_id):
            if loading is not None:
                await loading
            return
        try:
            turn = await self._conversations.turn(
                sender,
                "line",
                text,
                {"channel": "line", "chat_type": chat_type, "event_id": event_id},
            )
        except RasaUnavailable:
            log.exception("assistant unavailable for LINE event %s; sent the apology", event_id)
            messages = [TextMessage(text=texts.APOLOGY)]
        else:
            log.info("LINE event %s answered: %s", event_id, envelope_summary(turn.envelope))
            messages = render_turn(turn)
            if turn.kind == WITH_AGENT or (turn.envelope or {}).get(QUEUE_POSITION):
                await self._keep_recipient(sender, chat_id)
            if turn.kind == WITH_AGENT:
                # Passed to the agent; only a citizen still waiting for one is told so.
                position = (turn.envelope or {}).get(QUEUE_POSITION)
                messages = (
                    [TextMessage(text=texts.WAITING_FOR_AGENT.format(position=position))] if position else []
                )
            elif not messages:
                log.warning("assistant sent nothing to show for LINE event %s", event_id)
                messages = [TextMessage(text=texts.NO_ANSWER)]
            if (turn.envelope or {}).get(CALLBACK) and await self._await_callback(sender):
                messages.append(TextMessage(text=texts.CALLBACK_ASK))
        if loading is not None:
            await loading
        await self._messenger.deliver(chat_id, reply_token, messages, event_id)

    async def _took_callback(
        self, sender: str, chat_id: str, reply_token: str | None, text: str, event_id: str
    ) -> bool:
        """After an out-of-hours handoff, a message with a phone number is the callback request."""
        try:
            if not await self._redis.get(_callback_key(sender)):
                return False
        except RedisError:
            # Without Redis no callback can be awaited (none was asked for): the text goes to the bot.
            log.warning("Redis unreachable: LINE event %s not checked for a callback number", event_id)
            return False
        match = next(iter(phonenumbers.PhoneNumberMatcher(text, "TH")), None)
        if match is None or not phonenumbers.is_valid_number(match.number):
            return False  # anything else is a question for the bot
        phone = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        name = " ".join((text[: match.start] + " " + text[match.end :]).split())[:100] or "ผู้ใช้ LINE"
        await self._conversations.request_callback(sender, "line", name, phone, "")
        with contextlib.suppress(RedisError):  # it expires by itself
            await self._redis.delete(_callback_key(sender))
        log.info("callback request from LINE event %s", event_id)
        thanks = [TextMessage(text=texts.CALLBACK_THANKS)]
        await self._messenger.deliver(chat_id, reply_token, thanks, event_id)
        return True

    async def _await_callback(self, sender: str) -> bool:
        """The next minutes' message with a phone number is this sender's callback request;
        False when that cannot be remembered (the hotline in the handoff's answer remains)."""
        try:
            await self._redis.set(_callback_key(sender), "1", ex=CALLBACK_WAIT_SECONDS)
        except RedisError:
            log.warning("Redis unreachable: no callback number can be taken on LINE now")
            return False
        return True

    async def _keep_recipient(self, sender: str, chat_id: str) -> None:
        """A person has (or is about to take) the chat: their messages are pushed to this id."""
        try:
            await self._recipients.remember(sender, chat_id)
        except Exception:
            log.exception("could not keep the LINE id of %s for pushes", sender[:16])

    async def deliver_agent_messages(self, desk: HandoffDesk) -> int:
        """Push agents' messages not delivered yet, one push each, under the agent's name.

        Each message is claimed before the push, so two gateway processes never both send it;
        a failed push gives the claim back for the next round."""
        sent = 0
        async with self._delivering:
            for row in await desk.undelivered_line():
                # Looked up before the claim: a message whose chat id is not kept yet waits a round.
                to = await self._recipients.recipient(row["sender"])
                if to is None or not await desk.claim_delivery(row["id"]):
                    continue
                name = (row["display_name"] or "").strip()[:MAX_SENDER_NAME]
                message = TextMessage(text=row["text"], sender=Sender(name=name) if name else None)
                if await self._messenger.push(to, [message], f"agent-message-{row['id']}"):
                    sent += 1
                else:
                    await desk.unclaim_delivery(row["id"])
            await self._recipients.forget_idle()
        return sent

    async def aclose(self, grace: float = 5.0) -> None:
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
        await self._api_client.close()
        await self._limits.aclose()
        await self._redis.aclose()


def line_router() -> APIRouter:
    router = APIRouter()

    @router.post("/line/webhook", include_in_schema=False)
    async def line_webhook(request: Request) -> Response:
        channel: LineChannel | None = request.app.state.line
        if channel is None:
            # 404, not 503: nothing is there, and a 5xx would make LINE retry.
            return JSONResponse({"message": NOT_CONFIGURED}, status_code=404)
        body = await request.body()
        # Nothing in the body is looked at before the signature proves it came from LINE.
        if not channel.verify(body, request.headers.get("x-line-signature")):
            log.warning("LINE webhook with a missing or invalid signature refused")
            return JSONResponse({"message": "Invalid signature"}, status_code=400)
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
            return JSONResponse({"message": "Body is not JSON"}, status_code=400)
        if not isinstance(payload, dict):
            return JSONResponse({"message": "Body is not a webhook payload"}, status_code=400)
        await channel.accept(payload)
        return PlainTextResponse("OK")

    return router
