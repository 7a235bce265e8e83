"""Masking of personal data (national ID, phone, e-mail) before text is stored or logged.

Standard library only: Rasa's channel (bot/channels/rest.py) and the catalog and
gateway, which run in the other environment, all use it.
"""

from __future__ import annotations

import hashlib
import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A 13-digit national ID, written plain or grouped as 1-2345-67890-12-3.
_NATIONAL_ID = re.compile(r"(?<![\d๐-๙])[\d๐-๙](?:[\s-]?[\d๐-๙]){12}(?![\d๐-๙])")
# Thai phone numbers: 0X-XXX-XXXX, 08X-XXX-XXXX, +66 8X XXX XXXX.
_PHONE = re.compile(r"(?<![\d๐-๙])(?:\+66[\s-]?|[0๐])[\d๐-๙](?:[\s-]?[\d๐-๙]){7,8}(?![\d๐-๙])")

NATIONAL_ID_MASK = "[เลขบัตรประชาชน]"
PHONE_MASK = "[เบอร์โทร]"
EMAIL_MASK = "[อีเมล]"


def mask(text: str) -> str:
    """The text with national IDs, phone numbers and e-mail addresses replaced by placeholders."""
    text = _EMAIL.sub(EMAIL_MASK, text)
    text = _NATIONAL_ID.sub(NATIONAL_ID_MASK, text)
    return _PHONE.sub(PHONE_MASK, text)


def conversation_key(sender: str) -> str:
    """The id a conversation is stored under: the sender id itself, or, when it looks like
    personal data (a LINE id or web secret that happens to read as a phone number), a stable
    digest of it, which keeps the conversation together without storing the original."""
    if mask(sender) == sender:
        return sender
    return "anon-" + hashlib.sha256(sender.encode()).hexdigest()[:32]
