"""Webhook bodies shaped and signed the way the LINE Platform sends them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def line_id(prefix: str = "U") -> str:
    """A user (U), group (C) or room (R) id: the prefix and 32 hex characters."""
    return prefix + secrets.token_hex(16)


def ulid() -> str:
    """webhookEventId values are ULIDs: 26 Crockford base32 characters."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def sign(body: bytes, channel_secret: str) -> str:
    """X-Line-Signature: base64 of HMAC-SHA256 over the raw body, keyed with the channel secret."""
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def payload(*events: dict[str, Any], destination: str = "U" + "0" * 32) -> bytes:
    return json.dumps({"destination": destination, "events": list(events)}, ensure_ascii=False).encode(
        "utf-8"
    )


def source(chat_type: str = "user", user_id: str | None = None, chat_id: str | None = None) -> dict[str, Any]:
    user_id = user_id or line_id("U")
    if chat_type == "user":
        return {"type": "user", "userId": user_id}
    key = "groupId" if chat_type == "group" else "roomId"
    return {
        "type": chat_type,
        key: chat_id or line_id("C" if chat_type == "group" else "R"),
        "userId": user_id,
    }


def _event(
    kind: str,
    src: dict[str, Any],
    reply_token: str | None,
    *,
    event_id: str | None = None,
    redelivery: bool = False,
    **fields: Any,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": kind,
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "source": src,
        "webhookEventId": event_id or ulid(),
        "deliveryContext": {"isRedelivery": redelivery},
    }
    if reply_token is not None:
        event["replyToken"] = reply_token
    event.update(fields)
    return event


def message_id() -> str:
    return str(secrets.randbelow(10**17) + 10**17)


def text_event(
    text: str, reply_token: str, src: dict[str, Any] | None = None, mention_self: bool = False, **kw: Any
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "text",
        "id": message_id(),
        "quoteToken": secrets.token_urlsafe(24),
        "text": text,
    }
    if mention_self:
        # LINE puts the @name into the text and describes it (UTF-16 offsets) in mention.mentionees.
        name = "@ผู้ช่วยภาครัฐ"
        message["text"] = f"{name} {text}"
        message["mention"] = {
            "mentionees": [
                {"index": 0, "length": len(name), "type": "user", "userId": line_id("U"), "isSelf": True}
            ]
        }
    return _event("message", src or source(), reply_token, message=message, **kw)


def sticker_event(reply_token: str, src: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    message = {
        "type": "sticker",
        "id": message_id(),
        "quoteToken": secrets.token_urlsafe(24),
        "packageId": "446",
        "stickerId": "1988",
        "stickerResourceType": "STATIC",
        "keywords": ["hello"],
    }
    return _event("message", src or source(), reply_token, message=message, **kw)


def image_event(reply_token: str, src: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    message = {
        "type": "image",
        "id": message_id(),
        "quoteToken": secrets.token_urlsafe(24),
        "contentProvider": {"type": "line"},
    }
    return _event("message", src or source(), reply_token, message=message, **kw)


def postback_event(
    data: str, reply_token: str, src: dict[str, Any] | None = None, **kw: Any
) -> dict[str, Any]:
    return _event("postback", src or source(), reply_token, postback={"data": data}, **kw)


def follow_event(reply_token: str, src: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    return _event("follow", src or source(), reply_token, follow={"isUnblocked": False}, **kw)


def unfollow_event(src: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    return _event("unfollow", src or source(), None, **kw)
