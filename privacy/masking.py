"""Masking of personal data before text is stored or logged: Thai national IDs, phone numbers,
e-mail addresses, bank account numbers and LINE ids.

Rasa's channel (bot/channels/rest.py), the gateway, the staff side and the catalog all use it,
in both environments; its two libraries (python-stdnum, phonenumbers) are pure Python.

What is masked:
- A national ID: 13 digits whose check digit is right (stdnum.th.pin), in any writing: plain,
  grouped with dashes, spaces or dots, in Thai digits, glued to Thai words. A 13-digit number
  whose check digit is wrong is masked too when it is written in the ID's own grouping
  (1-2345-67890-12-3) or follows a word for the ID card (บัตร, ประชาชน, ...): a mistyped ID is
  still somebody's ID, one digit off. Otherwise it is left alone: 13 digits alone are a
  tracking or application number as often as an ID, and nine in ten random ones fail the check.
- A phone number: the ways people type Thai numbers (0X-XXX-XXXX, 08X XXX XXXX, +66 / 0066 ...,
  Thai digits; one kind of separator throughout, so a date next to a time is not one), and
  whatever else phonenumbers' matcher finds as a valid Thai number ((02) 123 4567, 66812345678).
- An e-mail address (ASCII, so a Thai word glued before it stays).
- A bank account: 10 digits grouped as Thai banks print them (123-4-56789-0), or 10 to 12 digits
  after a word for an account (บัญชี, เลขบัญชี, บช., account).
- A LINE user, group or room id (U, C or R and 32 hex digits).

Placeholders hold no digits and break the context words' reach, so masking twice changes nothing.
Text without a digit or an @ is returned at once, and text without nine digits close together
after a couple of regex searches: most messages cost a few microseconds.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import phonenumbers
from stdnum.th import pin

NATIONAL_ID_MASK = "[เลขบัตรประชาชน]"
PHONE_MASK = "[เบอร์โทร]"
EMAIL_MASK = "[อีเมล]"
BANK_ACCOUNT_MASK = "[เลขบัญชี]"
LINE_ID_MASK = "[ไอดีไลน์]"

# `\d` is any Unicode decimal digit, Thai ๐-๙ included.
_DIGIT = re.compile(r"\d")
# One separator between digits: a space, or a dash or dot with a space either side at most.
_SPACE = r"[ \t\u00a0]"
_SEP = rf"(?:{_SPACE}?[-.\u2010-\u2013]{_SPACE}?|{_SPACE})"
_SEP_CHARS = re.compile(rf"{_SEP}")

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_LINE_ID = re.compile(r"(?<![0-9A-Za-z])[UCR][0-9a-f]{32}(?![0-9A-Za-z])")

_ID_CANDIDATE = re.compile(rf"(?<!\d)\d(?:{_SEP}?\d){{12}}(?!\d)")
# The ID card's own grouping, 1-4-5-2-1, with one separator throughout.
_ID_LAYOUT = re.compile(r"\d(\D+)\d{4}\1\d{5}\1\d{2}\1\d")
# Words for the ID card just before a number: the number is an ID even with a wrong check digit.
# The gap may not hold digits or brackets, so a placeholder ends a word's reach.
_GAP = r"[^\d\[\]\n]{0,30}"
_ID_CONTEXT = re.compile(
    rf"(?:บัตร|ประชาชน|ปชช|ประจำตัว|id\s*card|national\s*id|citizen\s*id|\bpid\b){_GAP}$", re.IGNORECASE
)

# Bank accounts: the 3-1-5-1 grouping Thai banks print, or 10-12 digits after an account word.
_BANK_LAYOUT = re.compile(r"(?<![\dA-Za-z])\d{3}([ \-.])\d\1\d{5}\1\d(?![\dA-Za-z])")
_BANK_CONTEXT = re.compile(
    rf"(?:บัญชี|บ/ช|บช\.?|\baccount\b|\bacct?\b|\ba/c\b){_GAP}"
    rf"(?<!\d)(\d(?:{_SEP}?\d){{9,11}})(?!\d)",
    re.IGNORECASE,
)
_BANK_WORDS = ("บัญชี", "บ/ช", "บช", "acc", "a/c")

# Thai phone numbers as typed: 0 and 8-9 digits (9 for a landline, 10 for a mobile), or the same
# after +66 / 0066 without the 0. Latin letters around the digits make it a code, not a phone.
_PHONE = re.compile(
    rf"(?<![\dA-Za-z+])(?:(?:\+|00){_SPACE}?66{_SEP}?(?:\(0\){_SPACE}?)?|0)\d(?:{_SEP}?\d){{7,8}}(?![\dA-Za-z])"
)
# Every number masked here but a LINE id has 9 digits or more with at most 3 characters between
# two of them (a phone 9, a bank account 10, an ID 13): text without such a run is left at once.
_NINE_DIGITS = re.compile(r"\d(?:\D{0,3}\d){8}")
# phonenumbers' matcher costs 50-200 µs a text: it is run only where nine digits start the way a
# Thai number can (0, +, a bracket, 66), not on amounts, IP addresses or timestamps in logs.
_MATCHER_START = re.compile(r"(?:[+(]|(?<!\d)[0๐]|(?<!\d)[6๖][6๖])\s?\d(?:\D{0,3}\d){7}")


def _ascii_digits(text: str) -> str:
    return "".join(str(unicodedata.decimal(c)) for c in text if c.isdecimal())


def _one_kind_of_separator(number: str) -> bool:
    return len({s.strip() or " " for s in _SEP_CHARS.findall(number)}) <= 1


def _mask_national_ids(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        number = match.group()
        if pin.is_valid(_ascii_digits(number)) or _ID_LAYOUT.fullmatch(number):
            return NATIONAL_ID_MASK
        before = match.string[max(0, match.start() - 60) : match.start()]
        return NATIONAL_ID_MASK if _ID_CONTEXT.search(before) else number

    return _ID_CANDIDATE.sub(replace, text)


def _mask_bank_accounts(text: str) -> str:
    text = _BANK_LAYOUT.sub(BANK_ACCOUNT_MASK, text)
    # The context pattern is slow to scan (a case-blind alternation at every character): looked for
    # only when one of its words is there at all.
    lower = text.lower()
    if not any(word in lower for word in _BANK_WORDS):
        return text
    return _BANK_CONTEXT.sub(lambda m: m.group()[: m.start(1) - m.start()] + BANK_ACCOUNT_MASK, text)


def _mask_phones(text: str) -> str:
    text = _PHONE.sub(lambda m: PHONE_MASK if _one_kind_of_separator(m.group()) else m.group(), text)
    if not _NINE_DIGITS.search(text) or not _MATCHER_START.search(text):
        return text
    # libphonenumber reads Thai digits itself; only numbers valid in Thailand (or with their own
    # +country) count here, since the loose forms above are what people type.
    spans = [
        (m.start, m.end)
        for m in phonenumbers.PhoneNumberMatcher(text, "TH", leniency=phonenumbers.Leniency.VALID)
    ]
    for start, end in reversed(spans):
        text = text[:start] + PHONE_MASK + text[end:]
    return text


def mask(text: str) -> str:
    """The text with personal data (see the module's docstring) replaced by placeholders."""
    if "@" in text:
        text = _EMAIL.sub(EMAIL_MASK, text)
    if not _DIGIT.search(text):
        return text
    text = _LINE_ID.sub(LINE_ID_MASK, text)
    if not _NINE_DIGITS.search(text):
        return text
    # IDs first: their check digit is the strongest evidence; then the bank's grouping, which a
    # phone pattern would take for a 10-digit number starting with 0.
    text = _mask_national_ids(text)
    text = _mask_bank_accounts(text)
    return _mask_phones(text)


def conversation_key(sender: str) -> str:
    """The id a conversation is stored under: the sender id itself, or, when it looks like
    personal data (a LINE id or web secret that happens to read as a phone number), a stable
    digest of it, which keeps the conversation together without storing the original."""
    if mask(sender) == sender:
        return sender
    return "anon-" + hashlib.sha256(sender.encode()).hexdigest()[:32]
