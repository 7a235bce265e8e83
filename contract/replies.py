"""The reply envelope: what every bot turn tells its channel (docs/replies.md).

The one place that names the envelope's kinds and fields, the topics and their Thai
labels, the labels and intents the actions rely on, and the government hotline. The
actions (Rasa's environment) and the gateway and staff side (the services'
environment) import them from here; standard library only, so both can.
"""

from __future__ import annotations

import json
from typing import Final

# ---- kinds: the envelope's `kind`, one per turn -----------------------------------------------
ANSWER: Final = "answer"  # about one service of the catalog; service_id and topic are set
CLARIFY: Final = "clarify"  # not sure which service or topic: `options` are offered as buttons
HANDOFF: Final = "handoff"  # the citizen asked for a person, or accepted the bot's offer of one
OUT_OF_SCOPE: Final = "out_of_scope"  # not a public service the bot covers; it points to the hotline
GREET: Final = "greet"
GOODBYE: Final = "goodbye"
THANKS: Final = "thanks"
BOT_CHALLENGE: Final = "bot_challenge"  # "am I talking to a bot?"
FORM: Final = "form"  # asks for a detail the answer depends on; service_id and topic say for what
ERROR: Final = "error"  # a backend failed; the text says what to do instead (website, hotline)
# Staff side: while an agent holds the conversation the bot does not answer; the gateway
# replies with this kind and no bot text, and the message goes to the agent.
WITH_AGENT: Final = "with_agent"

SMALL_TALK: Final = (GREET, GOODBYE, THANKS, BOT_CHALLENGE)
KINDS: Final = frozenset({ANSWER, CLARIFY, HANDOFF, OUT_OF_SCOPE, *SMALL_TALK, FORM, ERROR, WITH_AGENT})
# Turns the bot could not answer itself: the staff side's "unanswered" questions.
UNANSWERED_KINDS: Final = frozenset({CLARIFY, OUT_OF_SCOPE, HANDOFF})

# ---- envelope fields ------------------------------------------------------------------------
KIND: Final = "kind"
SERVICE_ID: Final = "service_id"
TOPIC: Final = "topic"
SOURCE: Final = "source"  # the catalog's name
SOURCE_URL: Final = "source_url"
UPDATED: Final = "updated"  # the date of the record's facts
CONFIDENCE: Final = "confidence"
OPTIONS: Final = "options"  # clarify: the service ids (or topics) offered
CARD: Final = "card"  # answer: the service card channels render
# answer: the agency's FAQ entry that answered (catalog/faq.py), when one matched the question;
# its short answer replaces the topic's field, and source_url and updated are the entry's.
FAQ_ID: Final = "faq_id"
# Staff side: an answer the citizen may rate carries `feedback` (the values it may send
# back, FEEDBACK_VALUES); the rating itself arrives as a message with FEEDBACK_INTENT.
FEEDBACK: Final = "feedback"
FEEDBACK_HELPFUL: Final = "helpful"
FEEDBACK_UNHELPFUL: Final = "unhelpful"
FEEDBACK_VALUES: Final = (FEEDBACK_HELPFUL, FEEDBACK_UNHELPFUL)
# with_agent: the display name of the agent holding the conversation, when known.
AGENT: Final = "agent"
# handoff (added by the gateway, which keeps the queue): the citizen's place in the agents'
# queue (1 = next) while the desk is staffed; out of hours the hours in Thai, and whether the
# channel offers a callback form.
QUEUE_POSITION: Final = "queue_position"
OFFICE_HOURS: Final = "office_hours"
CALLBACK: Final = "callback"

# The service card of an `answer` envelope.
CARD_FIELDS: Final = ("title", "agency", "topic_label", "facts", "source_url", "updated")
MAX_FACTS: Final = 6  # at most this many facts in an answer and on its card

# ---- topics: what about a service is asked, with the label citizens see ---------------------
TOPIC_LABELS: Final[dict[str, str]] = {
    "overview": "ข้อมูลทั่วไป",
    "eligibility": "คุณสมบัติผู้มีสิทธิ์",
    "documents": "เอกสารที่ต้องใช้",
    "fee": "ค่าธรรมเนียม",
    "benefit": "สิทธิประโยชน์ที่ได้รับ",
    "payment_date": "วันที่เงินเข้า",
    "channels": "ช่องทางและสถานที่ยื่น",
    "steps": "ขั้นตอน",
    "processing_time": "ระยะเวลาดำเนินการ",
    "deadline": "กำหนดเวลา",
    "penalty": "ค่าปรับและผลของการล่าช้า",
    "status": "การตรวจสอบสถานะ",
    "contact": "ช่องทางติดต่อ",
}
TOPICS: Final = tuple(TOPIC_LABELS)
# A question that names a service but no topic.
DEFAULT_TOPIC: Final = "overview"

# ---- what the NLU tells the actions -----------------------------------------------------------
# Every question about a service is this one intent; the service and topic are labels of
# their own (bot/nlu/service_classifier.py, topic_classifier.py).
ASK_INTENT: Final = "ask_service"
# A detail given alone (แม่อายุ 75, เล่ม 10 ปี): it completes the question being discussed.
DETAIL_INTENT: Final = "inform"
# A question about a government service the catalog does not cover (ทำโฉนดที่ดิน...).
UNCOVERED_INTENT: Final = "ask_uncovered_service"
# The citizen asks for a person (data/rules.yml runs action_handoff).
HANDOFF_INTENT: Final = "request_human"
# A citizen's rating of an answer: `/feedback{"value": "unhelpful"}` from a rating button
# (feedback_payload), or typed words of complaint ("ไม่ได้ช่วยเลย"), which carry no value
# and mean unhelpful. data/rules.yml runs action_feedback.
FEEDBACK_INTENT: Final = "feedback"
# The entity of FEEDBACK_INTENT that carries the rating, one of FEEDBACK_VALUES.
FEEDBACK_ENTITY: Final = "value"
# The service labels of a question that names no service (a follow-up): `none` is the
# service being discussed, `previous` the one discussed before it.
NONE: Final = "none"
PREVIOUS: Final = "previous"
FOLLOW_UPS: Final = (NONE, PREVIOUS)

# ---- the offer of a person ---------------------------------------------------------------------
# When the bot thinks a person would help (it asked back twice in a row, the citizen said an
# answer did not help) it offers one with this button; pressing it is a request for a person.
HUMAN_PAYLOAD: Final = f"/{HANDOFF_INTENT}"
HUMAN_BUTTON_TITLE: Final = "คุยกับเจ้าหน้าที่"
# The entry a `clarify` envelope's `options` gets when one of its buttons offers a person.
HUMAN_OPTION: Final = HANDOFF

# ---- the government's hotline (ศูนย์บริการข้อมูลภาครัฐเพื่อประชาชน), in every dead end ------
GOVERNMENT_HOTLINE: Final = "1111"
GOVERNMENT_WEBSITE: Final = "www.1111.go.th"


def is_kind(value: object) -> bool:
    return isinstance(value, str) and value in KINDS


def feedback_payload(value: str) -> str:
    """The button payload that rates an answer: `/feedback{"value": "helpful"}`."""
    return f"/{FEEDBACK_INTENT}" + json.dumps({FEEDBACK_ENTITY: value}, ensure_ascii=False)


def topic_label(topic: str) -> str:
    """The Thai label of a topic; an unknown topic is shown as its id."""
    return TOPIC_LABELS.get(topic, topic)
