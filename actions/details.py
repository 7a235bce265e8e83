"""Personal answers: which detail an amount depends on, and the amounts that fit a person.

Nothing here knows a service: a fee or benefit item's `applies_to` in the catalog
record (docs/catalog-record.md) says whom it is for.
"""

from __future__ import annotations

import re
from typing import Any

from pythainlp.tokenize import word_tokenize
from pythainlp.util import thai_digit_to_arabic_digit, thaiword_to_num

AMOUNT_FIELDS = {"fee": "fees", "benefit": "benefits"}
# Amounts that fit a phone screen are all answered at once; a longer list asks for the
# detail that picks one.
MAX_LISTED_AMOUNTS = 4
VEHICLE_WORDS = {"car": "รถยนต์", "motorcycle": "รถจักรยานยนต์"}
# applies_to keys -> the slot that holds the person's detail
SLOT_OF_KEY = {"age_min": "age", "age_max": "age", "vehicle": "vehicle", "validity_years": "validity_years"}


def amount_items(record: dict[str, Any], topic: str) -> list[dict[str, Any]]:
    return list(record.get(AMOUNT_FIELDS.get(topic, ""), []) or [])


def needed_details(record: dict[str, Any], topic: str, known: dict[str, Any]) -> list[str]:
    """The slots whose values would pick one amount in a list too long to answer whole."""
    items = amount_items(record, topic)
    if len(items) <= MAX_LISTED_AMOUNTS:
        return []
    slots = []
    for item in items:
        for key in item.get("applies_to") or {}:
            slot = SLOT_OF_KEY.get(key)
            if slot and known.get(slot) is None and slot not in slots:
                slots.append(slot)
    return slots


def fits(item: dict[str, Any], known: dict[str, Any]) -> bool:
    """Whether an amount applies to a person, judged on the details we know."""
    applies = item.get("applies_to") or {}
    age = known.get("age")
    if age is not None:
        if "age_min" in applies and age < applies["age_min"]:
            return False
        if "age_max" in applies and age > applies["age_max"]:
            return False
    for key in ("vehicle", "validity_years"):
        if known.get(key) is not None and key in applies and not _same(applies[key], known[key]):
            return False
    return True


def _same(a: Any, b: Any) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def number_in(value: Any) -> float | None:
    """The number in a slot value such as 75, "75", "อายุ 75", "อายุ ๗๕" or "เล่มสิบปี"."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    digits = re.search(r"\d+", thai_digit_to_arabic_digit(str(value)))
    if digits:
        return float(digits.group())
    # Number words: the first run of words that are numbers ("เจ็ด" "สิบห้า" -> 75).
    run: list[str] = []
    for word in word_tokenize(str(value), engine="newmm"):
        if _is_number_word(word):
            run.append(word)
        elif run:
            break
    return float(thaiword_to_num("".join(run))) if run else None


def _is_number_word(word: str) -> bool:
    try:
        thaiword_to_num(word)
    except ValueError:
        return False
    return True


def known_details(slots: dict[str, Any]) -> dict[str, Any]:
    """The person's details from the slots, as numbers where they are numbers."""
    vehicle = slots.get("vehicle")
    return {
        "age": number_in(slots.get("age")),
        "validity_years": number_in(slots.get("validity_years")),
        "vehicle": vehicle if vehicle in VEHICLE_WORDS else None,
        "person": slots.get("person") or None,
    }


def ages_told(message: dict[str, Any] | None) -> list[float]:
    """Every age a message tells, in reading order and once each: "อายุ 69 จะครบ 70" tells 69 and 70
    (the age slot keeps one of them, as Rasa's slot mapping picks it)."""
    entities = [e for e in (message or {}).get("entities") or [] if e.get("entity") == "age"]
    ages = (number_in(e.get("value")) for e in sorted(entities, key=lambda e: e.get("start") or 0))
    return list(dict.fromkeys(age for age in ages if age is not None))


def deciding_details(items: list[dict[str, Any]], known: dict[str, Any]) -> list[str]:
    """The known details that the amounts depend on, in a fixed order."""
    keys = {SLOT_OF_KEY[k] for item in items for k in (item.get("applies_to") or {}) if k in SLOT_OF_KEY}
    return [slot for slot in ("age", "vehicle", "validity_years")
            if slot in keys and known.get(slot) is not None]


def describe(known: dict[str, Any], slots: list[str]) -> str:
    """The person and the details that decide, in Thai: "คุณแม่อายุ 72 ปี", "รถยนต์"."""
    parts = []
    if "age" in slots:
        parts.append(f"{known.get('person') or 'ผู้ที่'}อายุ {known['age']:g} ปี")
    if "vehicle" in slots:
        parts.append(VEHICLE_WORDS[known["vehicle"]])
    if "validity_years" in slots:
        parts.append(f"เล่ม {known['validity_years']:g} ปี")
    return " ".join(parts)


def below_every_tier(items: list[dict[str, Any]], known: dict[str, Any]) -> bool:
    """Whether the person is younger than every amount's minimum age."""
    minimums = [(i.get("applies_to") or {}).get("age_min") for i in items]
    return known.get("age") is not None and bool(minimums) and all(
        m is not None and known["age"] < m for m in minimums
    )


def personal_items(record: dict[str, Any], topic: str, known: dict[str, Any]) -> list[dict[str, Any]]:
    """The amounts for this person; all of them when none fits what we know."""
    items = amount_items(record, topic)
    fitting = [item for item in items if fits(item, known)]
    return fitting or items
