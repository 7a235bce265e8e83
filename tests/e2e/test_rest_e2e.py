"""The whole assistant over Rasa's REST channel: NLU, rules, action server, catalog and tracker store.

One fresh sender per test. Every turn must end with exactly one message carrying the reply envelope
(docs/replies.md). The messages are written for these tests, not taken from the evaluation set.
"""

from __future__ import annotations

import json
import os
import random
import string
import urllib.error
import urllib.request
from typing import Any

import pytest

from contract.replies import (
    ANSWER,
    FEEDBACK_HELPFUL,
    FEEDBACK_UNHELPFUL,
    FEEDBACK_VALUES,
    HUMAN_OPTION,
    HUMAN_PAYLOAD,
    KINDS,
    feedback_payload,
)
from privacy import EMAIL_MASK, NATIONAL_ID_MASK, PHONE_MASK

pytestmark = [pytest.mark.e2e, pytest.mark.needs_model]
TIMEOUT = 120


# -- helpers ----------------------------------------------------------------------------------------------
def new_sender() -> str:
    # Letters only: the channel masks digit runs that look like phone numbers, sender ids included.
    return "e2e-" + "".join(random.choices(string.ascii_lowercase, k=20))


def post(rasa_url: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if os.environ.get("REST_TOKEN"):
        headers["Authorization"] = f"Bearer {os.environ['REST_TOKEN']}"
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(f"{rasa_url}/webhooks/rest/webhook", data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        content = error.read()
        try:
            return error.code, json.loads(content)
        except ValueError:
            return error.code, content.decode(errors="replace")


class Conversation:
    """One citizen talking to the assistant; every turn's reply is checked for its envelope."""

    def __init__(self, rasa_url: str) -> None:
        self.rasa_url = rasa_url
        self.sender = new_sender()
        self.messages: list[dict[str, Any]] = []  # the latest turn's

    def payloads(self) -> list[str]:
        """The payloads of the latest turn's buttons."""
        return [b["payload"] for m in self.messages for b in m.get("buttons") or []]

    def say(self, text: str) -> tuple[dict[str, Any], str]:
        """The turn's envelope and the text of its messages."""
        status, messages = post(self.rasa_url, {"sender": self.sender, "message": text})
        assert status == 200, f"{text!r}: HTTP {status} {messages}"
        assert isinstance(messages, list) and messages, f"{text!r}: no reply"
        custom = [m for m in messages if "custom" in m]
        assert len(custom) == 1, f"{text!r}: a turn ends with exactly one envelope, got {messages}"
        assert messages[-1] is custom[0], f"{text!r}: the envelope is not the last message: {messages}"
        envelope = custom[0]["custom"]
        assert envelope.get("kind") in KINDS, f"{text!r}: unknown kind in {envelope}"
        if envelope["kind"] == ANSWER:  # channels may offer to rate every answer
            assert envelope.get("feedback") == list(FEEDBACK_VALUES), f"{text!r}: {envelope}"
        self.messages = messages
        words = "\n".join(m["text"] for m in messages if m.get("text"))
        assert words.strip(), f"{text!r}: nothing for people to read in {messages}"
        return envelope, words


@pytest.fixture
def chat(rasa_url: str) -> Conversation:
    return Conversation(rasa_url)


# -- answers --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("question", "service", "figure"),
    [
        pytest.param("พาสปอร์ตเล่ม 10 ปี ต้องจ่ายกี่บาทคะ", "passport", "1,500", id="passport-10-years"),
        pytest.param("อยากทราบราคาทำพาสปอร์ตเล่มสิบปีค่ะ", "passport", "1,500", id="passport-ten-in-words"),
        pytest.param("บัตรประชาชนหาย ทำใหม่ต้องเสียเงินเท่าไร", "id-card", "100", id="id-card-lost"),
        pytest.param("ทำใบขับขี่มอไซค์ครั้งแรก ค่าธรรมเนียมเท่าไหร่", "driving-licence-new", "100",
                     id="motorcycle-licence"),
        pytest.param("สอบถามค่าทำพาสปอร์ตเล่มสิบปีหน่อยค่ะ", "passport", "1,500", id="passport-kha-tham"),
        pytest.param("ค่าทำพาสปอร์ตเล่ม 10 ปี", "passport", "1,500", id="passport-fee-with-detail"),
    ],
)  # fmt: skip
def test_a_fee_question_is_answered_with_the_catalog_figure(
    chat: Conversation, question: str, service: str, figure: str
) -> None:
    envelope, text = chat.say(question)
    assert (envelope["kind"], envelope.get("service_id"), envelope.get("topic")) == ("answer", service, "fee")
    assert figure in text
    assert envelope["source_url"] in text  # every answer says where its figures come from


def test_an_answer_envelope_carries_the_source(chat: Conversation) -> None:
    envelope, _ = chat.say("จดทะเบียนสมรสต้องเอาเอกสารอะไรไป")
    assert (envelope["kind"], envelope["service_id"], envelope["topic"]) == (
        "answer",
        "marriage-registration",
        "documents",
    )
    assert envelope["source_url"].startswith("http")
    assert envelope["updated"]
    assert envelope["card"]["facts"]


@pytest.mark.parametrize(
    ("first", "service"),
    [("พาสปอร์ตต้องไปทำที่ไหนคะ", "passport"), ("ทำบัตรประชาชนต้องไปที่ไหน", "id-card")],
)
def test_a_follow_up_is_about_the_service_asked_before(chat: Conversation, first: str, service: str) -> None:
    envelope, _ = chat.say(first)
    assert (envelope["kind"], envelope.get("service_id")) == ("answer", service)
    envelope, _ = chat.say("แล้วต้องใช้เอกสารอะไรบ้าง")
    assert (envelope["kind"], envelope.get("service_id"), envelope.get("topic")) == (
        "answer",
        service,
        "documents",
    )


# -- conversations: context, switching, going back ------------------------------------------------------
def test_follow_ups_keep_the_service_a_new_name_switches_and_going_back_returns(chat: Conversation) -> None:
    def turn(text: str) -> tuple[str, str | None, str | None]:
        envelope, _ = chat.say(text)
        return envelope["kind"], envelope.get("service_id"), envelope.get("topic")

    assert turn("ทำหนังสือเดินทางครั้งแรกต้องไปที่ไหนครับ")[:2] == ("answer", "passport")
    assert turn("แล้วต้องเตรียมเอกสารอะไรไปบ้าง") == ("answer", "passport", "documents")
    assert turn("อีกเรื่องครับ ป้ายภาษีรถยนต์หมดอายุ จ่ายที่ไหนได้บ้าง")[:2] == ("answer", "vehicle-tax")
    assert turn("ส่วนเรื่องแรกที่ถามไป ค่าธรรมเนียมกี่บาทครับ") == ("answer", "passport", "fee")


def test_the_situation_decides_and_the_conversation_keeps_it(chat: Conversation) -> None:
    envelope, _ = chat.say("ใบขับขี่รถยนต์หมดอายุไปปีกว่าแล้วค่ะ ต้องทำยังไงบ้าง")
    assert (envelope["kind"], envelope.get("service_id")) == ("answer", "driving-licence-renewal")
    envelope, _ = chat.say("ต้องไปอบรมที่ขนส่งด้วยหรือเปล่าคะ")
    assert envelope.get("service_id") == "driving-licence-renewal"
    envelope, text = chat.say("แล้วต้องจ่ายเท่าไหร่คะ")
    assert (envelope["kind"], envelope.get("service_id"), envelope.get("topic")) == (
        "answer", "driving-licence-renewal", "fee")
    assert "505" in text


@pytest.mark.parametrize(
    "turns",
    [
        # After filing taxes, money taken off too much is the refund; the next follow-up stays there.
        [("ยื่นภาษีเงินได้ปีนี้ต้องใช้เอกสารอะไรบ้างครับ", "income-tax-filing"),
         ("ปีที่แล้วโดนหักไปเยอะมาก จะได้เงินส่วนนั้นกลับมาไหม", "tax-refund"),
         ("ต้องรอกี่วันครับ", "tax-refund")],
        # After section 40, having worked for a company and left is section 39.
        [("สมัครมาตรา 40 ยังไงครับ", "social-security-40"),
         ("แต่ผมเคยทำงานบริษัทมาแล้วลาออก จะส่งต่อเองได้ไหม", "social-security-39")],
        # After the disability card, a monthly payment for disabled people is the allowance.
        [("บัตรประจำตัวคนพิการใช้เอกสารอะไรบ้าง", "disability-card"),
         ("มีเงินช่วยเหลือรายเดือนให้คนพิการด้วยไหม สมัครที่ไหน", "disability-allowance")],
        # An ordinary follow-up after filing stays with filing.
        [("ยื่นภาษีออนไลน์ต้องทำยังไงครับ", "income-tax-filing"),
         ("ถ้ายื่นช้าจะโดนปรับไหม", "income-tax-filing")],
    ],
)
def test_a_related_service_told_in_other_words_takes_the_follow_up(
    chat: Conversation, turns: list[tuple[str, str]]
) -> None:
    for text, service in turns:
        envelope, _ = chat.say(text)
        assert (envelope["kind"], envelope.get("service_id")) == ("answer", service), text


def test_a_short_follow_up_is_not_out_of_scope_in_a_conversation(chat: Conversation) -> None:
    assert chat.say("อยากจดทะเบียนพาณิชย์ร้านขายของออนไลน์ค่ะ")[0].get("service_id") == "commercial-registration"
    envelope, _ = chat.say("มีเบอร์ให้โทรถามไหมคะ")
    assert (envelope["kind"], envelope.get("service_id"), envelope.get("topic")) == (
        "answer", "commercial-registration", "contact")
    assert chat.say("พรุ่งนี้ฝนจะตกไหม")[0]["kind"] == "out_of_scope"  # what clearly leaves still does


# -- personal answers ------------------------------------------------------------------------------------
def test_amounts_that_fit_a_phone_come_at_once_and_a_detail_given_after_picks_one(chat: Conversation) -> None:
    envelope, text = chat.say("ยายได้เบี้ยยังชีพเดือนละเท่าไหร่คะ")
    assert (envelope["kind"], envelope.get("service_id"), envelope.get("topic")) == (
        "answer", "elderly-allowance", "benefit")
    for amount in ("600", "700", "800", "1,000"):
        assert amount in text
    envelope, text = chat.say("ยายอายุเจ็ดสิบห้าค่ะ")
    assert (envelope["kind"], envelope.get("service_id")) == ("answer", "elderly-allowance")
    assert "คุณยายอายุ 75 ปี ได้ 700 บาท" in text
    for other in ("600 บาท", "800 บาท", "1,000 บาท"):
        assert other not in text


@pytest.mark.parametrize("question", ["พ่อผมแปดสิบกว่าแล้วครับ ได้เบี้ยคนชราเดือนละกี่บาท",
                                      "เบี้ยผู้สูงอายุ พ่อเพิ่งครบแปดสิบ ได้เท่าไร"])
def test_a_detail_in_the_question_is_answered_about_the_person(chat: Conversation, question: str) -> None:
    envelope, text = chat.say(question)
    assert (envelope["kind"], envelope.get("service_id"), envelope.get("topic")) == (
        "answer", "elderly-allowance", "benefit")
    assert "คุณพ่ออายุ 80 ปี ได้ 800 บาท" in text


def test_someone_outside_every_tier_is_told_so(chat: Conversation) -> None:
    envelope, text = chat.say("ตอนนี้อายุ 55 ปี สมัครรับเบี้ยผู้สูงอายุได้หรือยังคะ")
    assert envelope.get("service_id") == "elderly-allowance"
    assert "ยังไม่ถึงเกณฑ์" in text


def test_a_licence_fee_lists_both_vehicles_and_an_everyday_word_picks_one(chat: Conversation) -> None:
    envelope, text = chat.say("สอบใบขับขี่ใหม่ เสียค่าธรรมเนียมเท่าไหร่")
    assert (envelope["kind"], envelope.get("service_id"), envelope.get("topic")) == (
        "answer", "driving-licence-new", "fee")
    assert "200" in text and "100" in text
    envelope, text = chat.say("ขับรถเก๋งค่ะ")
    assert (envelope["kind"], envelope.get("service_id")) == ("answer", "driving-licence-new")
    assert "รถยนต์ เสียค่าธรรมเนียม 200 บาท" in text


# -- small talk, out of scope, people -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("หวัดดีครับ", "greet"),
        ("สวัสดีค่ะ", "greet"),
        ("ขอบใจมากนะ", "thanks"),
        ("ขอบคุณค่ะ", "thanks"),
        ("บ๊ายบาย", "goodbye"),
        ("ลาก่อนนะคะ", "goodbye"),
        ("คุยกับหุ่นยนต์อยู่รึเปล่า", "bot_challenge"),
        ("นี่คนหรือบอทคะ", "bot_challenge"),
    ],
)
def test_small_talk(chat: Conversation, text: str, kind: str) -> None:
    assert chat.say(text)[0] == {"kind": kind}


@pytest.mark.parametrize("text", ["ช่วยแนะนำร้านส้มตำแถวนี้หน่อย", "พรุ่งนี้ฝนจะตกไหม"])
def test_out_of_scope_points_to_1111(chat: Conversation, text: str) -> None:
    envelope, words = chat.say(text)
    assert envelope["kind"] == "out_of_scope"
    assert "1111" in words


def test_a_request_for_a_human_is_handed_over(chat: Conversation) -> None:
    envelope, words = chat.say("อยากคุยกับพนักงานตัวจริง")
    assert envelope["kind"] == "handoff"
    assert "1111" in words


def test_a_handoff_after_a_question_names_the_agency_hotline(chat: Conversation) -> None:
    chat.say("บัตรประชาชนหายต้องทำยังไง")
    envelope, words = chat.say("ขอสายเจ้าหน้าที่หน่อยค่ะ")
    assert (envelope["kind"], envelope.get("service_id")) == ("handoff", "id-card")
    assert "1111" in words
    assert "1548" in words  # the Department of Provincial Administration's line, from the catalog


# -- a person: asked for, or offered when the bot is not getting there --------------------------------
@pytest.mark.parametrize("text", ["ขอคุยกับคน", "ขอคุยกับเจ้าหน้าที่", "ติดต่อแอดมิน", "ขอคนจริง",
                                  "อยากให้คนจริงๆ มาตอบแทนบอทค่ะ"])  # fmt: skip
def test_asking_for_a_person_is_a_handoff_at_once(chat: Conversation, text: str) -> None:
    envelope, words = chat.say(text)
    assert envelope == {"kind": "handoff"}
    assert "เจ้าหน้าที่" in words and "1111" in words  # a channel without a staff desk still has the hotline


def test_asked_back_twice_in_a_row_offers_a_person_and_the_button_hands_over(chat: Conversation) -> None:
    # เบี้ย alone is both the elderly and the disability allowance: the bot asks which.
    envelope, _ = chat.say("อยากรู้ว่าเบี้ยได้เดือนละกี่บาท")
    assert envelope["kind"] == "clarify"
    assert HUMAN_PAYLOAD not in chat.payloads()  # once is not yet a reason
    envelope, _ = chat.say("ก็เบี้ยนั่นแหละค่ะ")
    assert envelope["kind"] == "clarify"
    assert envelope["options"][-1] == HUMAN_OPTION and len(envelope["options"]) > 1  # besides the options
    assert chat.payloads()[-1] == HUMAN_PAYLOAD
    assert chat.say(HUMAN_PAYLOAD)[0]["kind"] == "handoff"


def test_a_complaint_typed_after_an_answer_offers_a_person(chat: Conversation) -> None:
    assert chat.say("บัตรประชาชนหายต้องทำยังไง")[0]["kind"] == "answer"
    envelope, words = chat.say("คำตอบแบบนี้ไม่ได้ช่วยอะไรเลยค่ะ")
    assert (envelope["kind"], envelope["options"], envelope.get("service_id")) == (
        "clarify", [HUMAN_OPTION], "id-card")  # fmt: skip
    assert chat.payloads() == [HUMAN_PAYLOAD]
    assert "1548" in words  # the agency's own line, from the catalog
    envelope, _ = chat.say(HUMAN_PAYLOAD)
    assert (envelope["kind"], envelope.get("service_id")) == ("handoff", "id-card")


def test_rating_buttons_are_thanked_or_offer_a_person(chat: Conversation) -> None:
    envelope, _ = chat.say("จดทะเบียนสมรสต้องเอาเอกสารอะไรไป")
    assert envelope["kind"] == "answer" and envelope["feedback"] == list(FEEDBACK_VALUES)
    # The answer's own buttons are follow-up questions; rating buttons are the channel's to draw.
    assert not [p for p in chat.payloads() if p.startswith("/feedback") or p == HUMAN_PAYLOAD]
    assert chat.say(feedback_payload(FEEDBACK_HELPFUL))[0] == {"kind": "thanks"}
    envelope, _ = chat.say(feedback_payload(FEEDBACK_UNHELPFUL))
    assert (envelope["kind"], envelope.get("service_id")) == ("clarify", "marriage-registration")
    assert chat.payloads() == [HUMAN_PAYLOAD]


# -- personal data ------------------------------------------------------------------------------------------
def _tracker_events(sender: str) -> list[str]:
    """The `data` of the sender's events in the SQL tracker store."""
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        connection = psycopg2.connect(
            host=os.environ.get("TRACKER_DB_HOST", "127.0.0.1"),
            port=int(os.environ.get("TRACKER_DB_PORT", "5432")),
            dbname=os.environ.get("TRACKER_DB_NAME", "rasa_test"),
            user=os.environ.get("TRACKER_DB_USER", "postgres"),
            password=os.environ.get("TRACKER_DB_PASSWORD", ""),
        )
    except psycopg2.OperationalError as error:
        pytest.skip(f"tracker database not reachable: {error}")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT data FROM events WHERE sender_id = %s ORDER BY id", (sender,))
            return [row[0] for row in cursor.fetchall()]
    finally:
        connection.close()


def test_personal_data_never_reaches_the_tracker_store(chat: Conversation) -> None:
    secrets = ("1103700012345", "1-1037-00012-34-5", "0812345678", "somchai.j@example.co.th")
    chat.say("เลขบัตรประชาชน 1103700012345 ค่ะ ช่วยเช็คสิทธิ์บัตรทองให้หน่อย")
    chat.say("บัตรใหม่เลข 1-1037-00012-34-5 เบอร์ 0812345678 อีเมล somchai.j@example.co.th")
    events = _tracker_events(chat.sender)
    if not events:
        pytest.skip(f"the conversation is not in database {os.environ.get('TRACKER_DB_NAME', 'rasa_test')}; "
                    "set TRACKER_DB_NAME to the tracker store of RASA_URL")  # fmt: skip
    user_texts = [e["text"] for e in map(json.loads, events) if e.get("event") == "user"]
    assert len(user_texts) == 2
    assert NATIONAL_ID_MASK in user_texts[0]
    for placeholder in (NATIONAL_ID_MASK, PHONE_MASK, EMAIL_MASK):
        assert placeholder in user_texts[1]
    for data in events:
        for secret in secrets:
            assert secret not in data


# -- bad input ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="spaces"),
        pytest.param("🙏🙏🙏", id="emoji"),
        pytest.param("😀", id="one-emoji"),
        pytest.param("????", id="punctuation"),
        pytest.param("\u200b", id="zero-width"),
        pytest.param(("ขอสอบถามเรื่องการต่อภาษีรถยนต์ที่ขาดไปสองปีค่ะ " * 100)[:4000], id="4000-thai-chars"),
        pytest.param("ก" * 4000, id="4000-same-letter"),
    ],
)
def test_bad_input_gets_a_polite_reply(chat: Conversation, text: str) -> None:
    envelope, _ = chat.say(text)  # checks: HTTP 200, one envelope, something to read
    assert envelope["kind"] in KINDS - {"error"}


def test_too_long_a_message_is_refused_not_a_server_error(rasa_url: str) -> None:
    status, body = post(rasa_url, {"sender": new_sender(), "message": "ก" * 6000})
    assert status == 413
    assert body["error"]


@pytest.mark.parametrize(
    ("body", "raw"),
    [(None, b"{not json"), ({"message": "สวัสดี"}, None), ({"sender": new_sender(), "message": 7}, None)],
)
def test_malformed_requests_are_refused_not_a_server_error(
    rasa_url: str, body: Any, raw: bytes | None
) -> None:
    status, reply = post(rasa_url, body, raw)
    assert status == 400
    assert reply["error"]


def test_the_conversation_goes_on_after_bad_input(chat: Conversation) -> None:
    chat.say("🙏🙏🙏")
    envelope, text = chat.say("พาสปอร์ตเล่ม 10 ปี ต้องจ่ายกี่บาทคะ")
    assert (envelope["kind"], envelope.get("service_id")) == ("answer", "passport")
    assert "1,500" in text
