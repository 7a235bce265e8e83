"""Short, polite Thai answers composed from a catalog record's fields, one topic at a time.

Every figure in an answer is a field of the record; a field that is empty gives an
honest "no data" with the agency's hotline, never a guess.
"""

from __future__ import annotations

from typing import Any

from actions.details import amount_items, below_every_tier, deciding_details, describe, fits, personal_items
from contract.replies import GOVERNMENT_HOTLINE, MAX_FACTS, TOPIC_LABELS

# An empty money topic points to the other one: a "how much" question about a service with no fee
# (annual vehicle tax) is often about what lateness costs, and the reverse.
RELATED_TOPICS: dict[str, tuple[str, ...]] = {"fee": ("penalty",), "penalty": ("fee",)}


def baht(amount: float) -> str:
    return "ไม่เสียค่าธรรมเนียม" if amount == 0 else f"{amount:,.0f} บาท"


def _amount_line(item: dict[str, Any]) -> str:
    amount = item.get("amount")
    line = item.get("item", "")
    if amount is not None:
        line = f"{line}: {baht(float(amount))}" if line else baht(float(amount))
    return f"{line} ({item['note']})" if item.get("note") else line


def _amount_phrase(item: dict[str, Any]) -> str:
    """An amount in a sentence: "700 บาทต่อเดือน", "505 บาท (ยอดรวม...)"."""
    amount, note = item.get("amount"), item.get("note") or ""
    if amount is None:
        return f"{item.get('item', '')} {note}".strip()
    amount = float(amount)
    if note.startswith("บาท") and amount:
        return f"{amount:,.0f} {note}"
    return baht(amount) + (f" ({note})" if note else "")


def personal_lead(record: dict[str, Any], topic: str, known: dict[str, Any]) -> tuple[str | None, bool]:
    """A sentence about the person when the details they gave decide the amount, and
    whether it answers the question alone (else the topic's lines follow it).

    "คุณแม่อายุ 72 ปี ได้ 700 บาทต่อเดือนค่ะ"; someone outside every tier is told so, with
    the tiers. An eligibility question is answered on the age tiers of the benefits.
    """
    amount_topic = "benefit" if topic == "eligibility" else topic
    items = amount_items(record, amount_topic)
    slots = deciding_details(items, known)
    if topic not in ("fee", "benefit", "eligibility") or not slots:
        return None, False
    who = describe(known, slots)
    fitting = [item for item in items if fits(item, known)]
    if not fitting:
        if not below_every_tier(items, known):
            return f"{who} ไม่อยู่ในเกณฑ์ค่ะ เกณฑ์มีดังนี้", False
        # Someone not yet old enough is told when that changes and what it brings.
        first = min(items, key=lambda item: item["applies_to"]["age_min"])
        then = ""
        if topic != "fee" and first.get("amount"):
            then = f" เมื่ออายุครบ {first['applies_to']['age_min']:g} ปี จะได้ {_amount_phrase(first)}"
        return f"{who} ยังไม่ถึงเกณฑ์ค่ะ{then} เกณฑ์มีดังนี้", False
    others = _other_ages(items, known, amount_topic)
    if topic == "eligibility":
        amounts = " หรือ ".join(_amount_phrase(item) for item in fitting)
        return f"{who} อยู่ในเกณฑ์อายุที่ได้ {amounts}{others} หากมีคุณสมบัติครบตามนี้ค่ะ", False
    return f"{who} {_amounts(fitting, topic)}{others}ค่ะ", True


def _amounts(items: list[dict[str, Any]], topic: str) -> str:
    """What a person gets or pays: "ได้ 700 บาทต่อเดือน", "เสียค่าธรรมเนียม 505 บาท", "ไม่เสียค่าธรรมเนียม"."""
    amounts = " หรือ ".join(_amount_phrase(item) for item in items)
    if all(item.get("amount") == 0 for item in items):
        return amounts
    return f"{'เสียค่าธรรมเนียม' if topic == 'fee' else 'ได้'} {amounts}"


def _other_ages(items: list[dict[str, Any]], known: dict[str, Any], topic: str) -> str:
    """The other ages the message told, where their amounts differ from the person's: "ส่วนอายุ 70 ปี
    ได้ 700 บาทต่อเดือน" for someone of 69 who turns 70 soon (or a second person)."""
    mine = [item for item in items if fits(item, known)]
    parts = []
    for age in known.get("other_ages") or ():
        other = {**known, "age": age}
        fitting = [item for item in items if fits(item, other)]
        if age == known.get("age") or fitting == mine:
            continue
        outside = "ยังไม่ถึงเกณฑ์" if below_every_tier(items, other) else "ไม่อยู่ในเกณฑ์"
        parts.append(f" ส่วนอายุ {age:g} ปี {_amounts(fitting, topic) if fitting else outside}")
    return "".join(parts)


def personal_note(record: dict[str, Any], known: dict[str, Any]) -> str | None:
    """The person's amount in one sentence, for an answer on another topic: someone who says how
    old their mother is and asks where to register her wants to know what she would get too.
    Only when the details pick some of the amounts, not all and not none."""
    for amount_topic in ("benefit", "fee"):
        items = amount_items(record, amount_topic)
        fitting = [item for item in items if fits(item, known)]
        if deciding_details(items, known) and fitting and len(fitting) < len(items):
            return personal_lead(record, amount_topic, known)[0]
    return None


def _document_line(doc: dict[str, Any]) -> str:
    extras = []
    if doc.get("copies"):
        extras.append(f"สำเนา {doc['copies']} ฉบับ")
    if doc.get("note"):
        extras.append(doc["note"])
    return doc["name"] + (f" ({', '.join(extras)})" if extras else "")


def _channel_line(channel: dict[str, Any]) -> str:
    parts = [channel.get("name", "")]
    if channel.get("hours"):
        parts.append(f"เวลา {channel['hours']}")
    if channel.get("url"):
        parts.append(channel["url"])
    return " ".join(p for p in parts if p)


def _contact_lines(record: dict[str, Any]) -> list[str]:
    contact = record.get("contact") or {}
    authority = (record.get("competent_authority") or {}).get("name_th", "")
    lines = [f"{authority} สายด่วน {contact['hotline']}" if contact.get("hotline") else authority]
    if contact.get("website"):
        lines.append(f"เว็บไซต์ {contact['website']}")
    if contact.get("line"):
        lines.append(f"LINE {contact['line']}")
    return [line for line in lines if line]


def facts(record: dict[str, Any], topic: str, known: dict[str, Any]) -> list[str]:
    """The record's statements about one topic, as short lines."""
    if topic == "overview":
        lines = [record.get("description", "")]
        lines += (record.get("eligibility") or [])[:1]
        return [line for line in lines if line]
    if topic in ("fee", "benefit"):
        return [_amount_line(i) for i in personal_items(record, topic, known)]
    if topic == "documents":
        return [_document_line(d) for d in record.get("documents") or []]
    if topic == "channels":
        return [_channel_line(c) for c in record.get("channels") or []]
    if topic == "steps":
        return [f"{n}. {step}" for n, step in enumerate(record.get("steps") or [], 1)]
    if topic == "contact":
        return _contact_lines(record)
    field = {
        "eligibility": "eligibility",
        "payment_date": "payment_schedule",
        "processing_time": "processing_time",
        "deadline": "deadlines",
        "penalty": "penalties",
        "status": "status_check",
    }[topic]
    value = record.get(field)
    return [value] if isinstance(value, str) and value else list(value or [])


def compose(
    record: dict[str, Any], topic: str, known: dict[str, Any], note_amount: bool = False
) -> tuple[str, dict[str, Any]]:
    """The answer text and the service card of one topic; `note_amount`: a detail the person
    has just given decides an amount, said after an answer on another topic."""
    name = record["name"]["th"]
    label = TOPIC_LABELS.get(topic, topic)
    lines = facts(record, topic, known)[:MAX_FACTS]
    lead, complete = personal_lead(record, topic, known)
    if complete:
        text = f"{name}\n{lead}"
    elif lines:
        body = "\n".join(f"• {line}" if not line[:2].rstrip(".").isdigit() else line for line in lines)
        text = f"{name}\n{lead}\n{body}" if lead else f"{name}: {label}\n{body}"
    else:
        contact = _contact_lines(record)
        where = contact[0] if contact else f"สายด่วน {GOVERNMENT_HOTLINE}"
        text = f"{name}: ยังไม่มีข้อมูลเรื่อง{label}ในระบบค่ะ สอบถามได้ที่ {where}"
        # What the record does say about money, when the asked money topic is empty.
        for other in RELATED_TOPICS.get(topic, ()):
            if related := facts(record, other, known)[:MAX_FACTS]:
                body = "\n".join(f"• {line}" for line in related)
                text += f"\nข้อมูลที่เกี่ยวข้อง: {TOPIC_LABELS[other]}\n{body}"
                break
    if note_amount and lead is None and (note := personal_note(record, known)):
        text += f"\n{note}"
    text += f"\nที่มา: {record['source_url']} (ข้อมูล ณ {record['updated']})"
    card = {
        "title": name,
        "agency": (record.get("competent_authority") or {}).get("name_th", ""),
        "topic_label": label,
        "facts": lines,
        "source_url": record["source_url"],
        "updated": record["updated"],
    }
    return text, card


def compose_faq(record: dict[str, Any], entry: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The answer text and card of an agency's FAQ entry: its short answer, its source and date."""
    name = record["name"]["th"]
    text = f"{name}\n{entry['answer']}\nที่มา: {entry['source_url']} (ข้อมูล ณ {entry['updated']})"
    card = {
        "title": name,
        "agency": (record.get("competent_authority") or {}).get("name_th", ""),
        "topic_label": TOPIC_LABELS.get(entry["topic"], entry["topic"]),
        "facts": [entry["answer"]],
        "source_url": entry["source_url"],
        "updated": entry["updated"],
    }
    return text, card
