"""The custom actions against the real catalog service, with rasa_sdk's Tracker and CollectingDispatcher."""

from __future__ import annotations

import asyncio
import inspect
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher
from support import TEST_CATALOG_ADMIN_TOKEN, free_port

from actions import catalog as action_catalog
from actions import details
from actions.catalog_client import Catalog, CatalogClient, CatalogUnavailable, ServiceNotFound
from actions.detail_form import AskAge, AskVehicle, ValidateDetailForm
from actions.fixed_replies import ActionBotChallenge, ActionOutOfScope, ActionUncoveredService, FixedReply
from actions.service_actions import ActionAnswerService, ActionClarify, ActionFeedback, ActionHandoff
from contract.replies import (
    FEEDBACK_VALUES,
    GOVERNMENT_HOTLINE,
    GOVERNMENT_WEBSITE,
    HUMAN_BUTTON_TITLE,
    HUMAN_OPTION,
    HUMAN_PAYLOAD,
    TOPIC_LABELS,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
ASK = "/ask_service"


# -- helpers ----------------------------------------------------------------------------------------
def ranking(*pairs: tuple[str, float]) -> list[dict[str, Any]]:
    return [{"name": name, "confidence": confidence} for name, confidence in pairs]


def tracker(
    text: str = "",
    *,
    intent: str = "ask_service",
    service: str = "none",
    service_confidence: float = 0.9,
    ambiguous: bool = False,
    service_ranking: list[dict[str, Any]] | None = None,
    mentions: list[dict[str, Any]] | None = None,
    topic: str = "overview",
    topic_ranking: list[dict[str, Any]] | None = None,
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    active_loop: dict[str, Any] | None = None,
) -> Tracker:
    """A tracker whose latest message looks like the NLU pipeline's output."""
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": entities or [],
        "service": {
            "name": service,
            "confidence": service_confidence,
            "ambiguous": ambiguous,
            "ranking": service_ranking
            if service_ranking is not None
            else ranking((service, service_confidence)),
            "mentions": mentions or [],
        },
        "topic": {
            "name": topic,
            "confidence": 0.8,
            "ambiguous": False,
            "ranking": topic_ranking if topic_ranking is not None else ranking((topic, 0.8)),
        },
    }
    all_slots = {
        "service": None,
        "topic": None,
        "age": None,
        "vehicle": None,
        "validity_years": None,
        "requested_slot": None,
        "needs_detail": None,
    }
    all_slots.update(slots or {})
    return Tracker("test-user", all_slots, latest, [], False, None, active_loop or {}, "action_listen")


def run(action: Action, trk: Tracker, domain: dict[str, Any] | None = None) -> tuple[list[dict], list[dict]]:
    """The messages the action sent and the events it returned."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, trk, domain or {}))
    return dispatcher.messages, events


def envelope(messages: list[dict]) -> dict[str, Any]:
    """The turn's envelope: the custom payload of the last message (docs/replies.md)."""
    assert messages, "the action sent nothing"
    custom = messages[-1].get("custom") or {}
    assert custom.get("kind"), f"the last message carries no envelope: {messages[-1]}"
    return custom


def bot_turn(kind: str) -> list[dict[str, Any]]:
    """The events of an earlier exchange: a citizen's message and a bot turn ending with `kind`."""
    return [
        {"event": "user", "text": "..."},
        {"event": "bot", "text": "...", "data": {"buttons": []}},
        {"event": "bot", "text": None, "data": {"custom": {"kind": kind}}},
    ]


def after(trk: Tracker, *kinds: str) -> Tracker:
    """The tracker with earlier bot turns of these kinds before its latest message."""
    trk.events = [
        *(e for kind in kinds for e in bot_turn(kind)),
        {"event": "user", "text": trk.latest_message.get("text", "")},
    ]
    return trk


def human_buttons(messages: list[dict]) -> list[dict]:
    return [b for m in messages for b in m.get("buttons") or [] if b["payload"] == HUMAN_PAYLOAD]


def text_of(messages: list[dict]) -> str:
    return "\n".join(m["text"] for m in messages if m.get("text"))


def required_slots(trk: Tracker) -> list[str]:
    return asyncio.run(ValidateDetailForm().required_slots([], CollectingDispatcher(), trk, {}))


def record_of(catalog_url: str, service_id: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{catalog_url}/services/{service_id}", timeout=5) as response:
        return json.loads(response.read())


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


# -- fixtures -----------------------------------------------------------------------------------------
@pytest.fixture
def live_catalog(catalog_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The actions' shared client pointed at the real catalog (a fresh client, an empty cache)."""
    monkeypatch.delenv("CATALOGS_FILE", raising=False)
    monkeypatch.setenv("CATALOG_URL", catalog_url)
    action_catalog.client.cache_clear()
    yield catalog_url
    action_catalog.client.cache_clear()


@pytest.fixture
def catalog_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The actions' shared client pointed at a port nothing listens on."""
    monkeypatch.delenv("CATALOGS_FILE", raising=False)
    url = dead_url()
    monkeypatch.setenv("CATALOG_URL", url)
    action_catalog.client.cache_clear()
    yield url
    action_catalog.client.cache_clear()


@pytest.fixture(scope="module")
def domain() -> dict[str, Any]:
    """The domain as Rasa sends it to the action server."""
    return Domain.load(str(REPO_ROOT / "domain.yml")).as_dict()


# -- answers ---------------------------------------------------------------------------------------------
def test_answer_envelope_is_the_last_message(live_catalog: str) -> None:
    trk = tracker(
        "หนังสือเดินทางแบบสิบปีค่าธรรมเนียมเท่าไร", service="passport", topic="fee", slots={"validity_years": 10.0}
    )
    messages, events = run(ActionAnswerService(), trk)
    reply = envelope(messages)
    record = record_of(live_catalog, "passport")
    assert reply["kind"] == "answer"
    assert reply["service_id"] == "passport"
    assert reply["topic"] == "fee"
    assert reply["source_url"] == record["source_url"]
    assert reply["updated"] == record["updated"]
    assert reply["card"]["title"] == record["name"]["th"]
    assert reply["card"]["source_url"] == record["source_url"]
    # Text for people comes before the envelope, and the envelope carries none of its own.
    assert not messages[-1].get("text")
    assert "1,500" in text_of(messages)
    assert "1,000" not in text_of(messages)  # the 5-year book is not what was asked
    assert SlotSet("service", "passport") in events
    assert SlotSet("topic", "fee") in events
    # Channels may offer rating buttons; the answer itself offers no person.
    assert reply["feedback"] == list(FEEDBACK_VALUES)
    assert not human_buttons(messages)


@pytest.fixture
def short_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    """A phone that fits one amount: every list of amounts is too long to answer whole."""
    monkeypatch.setattr(details, "MAX_LISTED_AMOUNTS", 1)


def test_amounts_that_fit_a_phone_are_all_answered_at_once(live_catalog: str) -> None:
    messages, events = run(ActionAnswerService(), tracker("ทำพาสปอร์ตกี่บาท", service="passport", topic="fee"))
    assert envelope(messages)["kind"] == "answer"
    for fee in record_of(live_catalog, "passport")["fees"]:
        assert f"{fee['amount']:,.0f}" in text_of(messages)
    assert SlotSet("needs_detail", True) not in events


def test_a_long_list_of_amounts_hands_over_to_the_form(live_catalog: str, short_screen: None) -> None:
    # The rule "a personal answer asks for the detail first" runs detail_form on this slot.
    messages, events = run(ActionAnswerService(), tracker("ทำพาสปอร์ตกี่บาท", service="passport", topic="fee"))
    assert messages == []
    assert events == [SlotSet("service", "passport"), SlotSet("topic", "fee"), SlotSet("needs_detail", True)]


def test_the_answer_after_the_form_clears_the_hand_over(live_catalog: str) -> None:
    trk = tracker(
        "10 ปี",
        intent="inform",
        slots={"service": "passport", "topic": "fee", "validity_years": 10.0, "needs_detail": True},
    )
    messages, events = run(ActionAnswerService(), trk)
    assert envelope(messages)["kind"] == "answer"
    assert SlotSet("needs_detail", None) in events


def test_once_the_form_ran_for_the_message_the_answer_goes_out_anyway(live_catalog: str) -> None:
    # The form found nothing to ask (a detail it could not read): answering with every
    # amount, rather than handing over again, keeps the form and the answer from looping.
    trk = tracker("ทำพาสปอร์ตกี่บาท", service="passport", topic="fee", slots={"needs_detail": True})
    trk.events = [
        {"event": "user", "text": "ทำพาสปอร์ตกี่บาท"},
        {"event": "action", "name": "action_answer_service"},
        {"event": "action", "name": "detail_form"},
    ]
    messages, events = run(ActionAnswerService(), trk)
    assert envelope(messages)["kind"] == "answer"
    for fee in record_of(live_catalog, "passport")["fees"]:
        assert f"{fee['amount']:,.0f}" in text_of(messages)
    assert SlotSet("needs_detail", None) in events


def test_every_figure_comes_from_the_catalog(live_catalog: str) -> None:
    trk = tracker(
        "ทำพาสปอร์ตกี่บาท",
        intent="inform",
        service="passport",
        topic="fee",
        slots={"service": "passport", "topic": "fee"},
    )
    messages, _ = run(ActionAnswerService(), trk)
    fees = record_of(live_catalog, "passport")["fees"]
    # Without the validity known (the form was left), both books are listed.
    for fee in fees:
        assert f"{fee['amount']:,.0f}" in text_of(messages)
    assert envelope(messages)["kind"] == "answer"


def test_elderly_allowance_for_an_82_year_old(live_catalog: str) -> None:
    trk = tracker(
        "แม่อายุ 82 ได้เบี้ยเดือนละเท่าไหร่", service="elderly-allowance", topic="benefit", slots={"age": 82.0}
    )
    messages, _ = run(ActionAnswerService(), trk)
    reply = envelope(messages)
    assert (reply["kind"], reply["service_id"], reply["topic"]) == ("answer", "elderly-allowance", "benefit")
    text = text_of(messages)
    assert "800" in text
    for other in ("600", "700", "1,000"):
        assert f"{other} บาท" not in text


def test_a_personal_answer_is_a_sentence_about_the_person(live_catalog: str) -> None:
    trk = tracker(
        "แม่อายุ 72 ได้เท่าไหร่",
        service="elderly-allowance",
        topic="benefit",
        slots={"age": 72.0, "person": "คุณแม่"},
    )
    messages, _ = run(ActionAnswerService(), trk)
    assert "คุณแม่อายุ 72 ปี ได้ 700 บาท" in text_of(messages)


def test_an_age_told_with_another_question_adds_the_persons_amount(live_catalog: str) -> None:
    age = [{"entity": "age", "value": "อายุ 84"}]
    slots = {"age": 84.0, "person": "คุณตา"}
    trk = tracker("คุณตาอายุ 84 ต้องไปลงทะเบียนที่ไหน", service="elderly-allowance", topic="channels",
                  entities=age, slots=slots)  # fmt: skip
    messages, _ = run(ActionAnswerService(), trk)
    assert envelope(messages)["topic"] == "channels"
    text = text_of(messages)
    assert "คุณตาอายุ 84 ปี ได้ 800 บาท" in text
    # The question asked first, then the person's amount, then the source.
    assert text.index("ที่มา:") > text.index("ได้ 800 บาท") > text.index(TOPIC_LABELS["channels"])
    # Told in an earlier message, it is not repeated with every later answer.
    later = tracker("ต้องเตรียมอะไรไป", service="elderly-allowance", topic="documents", slots=slots)
    assert "800 บาท" not in text_of(run(ActionAnswerService(), later)[0])


def test_two_ages_in_one_message_are_both_answered(live_catalog: str) -> None:
    # Someone about to move up a tier (or a second person): both amounts, each from the record.
    ages = [{"entity": "age", "value": "ครบ 80", "start": 20},
            {"entity": "age", "value": "อายุ 79", "start": 3}]
    trk = tracker("ตาอายุ 79 เดือนหน้าก็ครบ 80 แล้ว ได้เบี้ยเท่าไหร่", service="elderly-allowance",
                  topic="benefit", entities=ages, slots={"age": 79.0, "person": "คุณตา"})  # fmt: skip
    text = text_of(run(ActionAnswerService(), trk)[0])
    assert "คุณตาอายุ 79 ปี ได้ 700 บาทต่อเดือน ส่วนอายุ 80 ปี ได้ 800 บาทต่อเดือนค่ะ" in text
    # The same tier twice says it once; an age below every tier is told so.
    same = [{"entity": "age", "value": "71 ปี"}, {"entity": "age", "value": "72"}]
    trk = tracker("แม่ 71 ปีแล้ว ปีหน้า 72 ได้เท่าไหร่", service="elderly-allowance", topic="benefit",
                  entities=same, slots={"age": 71.0})  # fmt: skip
    assert "ส่วนอายุ" not in text_of(run(ActionAnswerService(), trk)[0])
    young = [{"entity": "age", "value": "อายุ 61"}, {"entity": "age", "value": "อายุ 58"}]
    trk = tracker("พ่ออายุ 61 แม่อายุ 58 ได้เบี้ยเท่าไหร่", service="elderly-allowance", topic="benefit",
                  entities=young, slots={"age": 61.0})  # fmt: skip
    assert "ได้ 600 บาทต่อเดือน ส่วนอายุ 58 ปี ยังไม่ถึงเกณฑ์ค่ะ" in text_of(run(ActionAnswerService(), trk)[0])


def test_an_age_that_picks_no_single_amount_adds_nothing(live_catalog: str) -> None:
    age = [{"entity": "age", "value": "อายุ 55"}]
    trk = tracker("อายุ 55 สมัครที่ไหน", service="elderly-allowance", topic="channels", entities=age,
                  slots={"age": 55.0})  # fmt: skip
    text = text_of(run(ActionAnswerService(), trk)[0])
    assert "บาท" not in text


def test_someone_below_every_tier_is_told_so_with_the_rule(live_catalog: str) -> None:
    trk = tracker("อายุ 55 ได้เบี้ยไหม", service="elderly-allowance", topic="eligibility", slots={"age": 55.0})
    messages, _ = run(ActionAnswerService(), trk)
    text = text_of(messages)
    assert "อายุ 55 ปี ยังไม่ถึงเกณฑ์" in text
    # When that changes and what it brings: the youngest tier's amount.
    assert "เมื่ออายุครบ 60 ปี จะได้ 600 บาท" in text


def test_an_empty_money_topic_gives_what_the_record_says_about_money(live_catalog: str) -> None:
    # Annual vehicle tax has no fee of its own in the catalog; lateness costs are there.
    messages, _ = run(ActionAnswerService(), tracker("ภาษีรถต้องจ่ายเท่าไร", service="vehicle-tax", topic="fee"))
    text = text_of(messages)
    assert "ยังไม่มีข้อมูลเรื่องค่าธรรมเนียม" in text
    assert "ร้อยละ 1 ต่อเดือน" in text
    assert (envelope(messages)["service_id"], envelope(messages)["topic"]) == ("vehicle-tax", "fee")


def test_a_vehicle_picks_the_fee(live_catalog: str) -> None:
    trk = tracker("ต่อใบขับขี่รถตู้กี่บาท", service="driving-licence-renewal", topic="fee", slots={"vehicle": "car"})
    messages, _ = run(ActionAnswerService(), trk)
    assert "รถยนต์ เสียค่าธรรมเนียม 505 บาท" in text_of(messages)
    assert "255" not in text_of(messages)


def test_id_card_fee(live_catalog: str) -> None:
    messages, _ = run(ActionAnswerService(), tracker("บัตรปชช.หายทำใหม่กี่บาท", service="id-card", topic="fee"))
    reply = envelope(messages)
    assert (reply["kind"], reply["service_id"], reply["topic"]) == ("answer", "id-card", "fee")
    assert "100" in text_of(messages)


def test_a_follow_up_resolved_by_the_conversation_is_answered_about_it(live_catalog: str) -> None:
    # The NLU's ConversationContext merged `none` into the service discussed
    # (tests/bot/test_conversation_context.py); the action answers what it says.
    trk = tracker(
        "แล้วต้องเตรียมอะไรไปบ้าง",
        service="passport",
        service_ranking=ranking(("passport", 0.95)),
        topic="documents",
        slots={"service": "passport", "topic": "fee"},
    )
    messages, events = run(ActionAnswerService(), trk)
    reply = envelope(messages)
    assert (reply["kind"], reply["service_id"], reply["topic"]) == ("answer", "passport", "documents")
    first_document = record_of(live_catalog, "passport")["documents"][0]["name"]
    assert first_document in text_of(messages)
    assert SlotSet("topic", "documents") in events


def test_answer_offers_other_topics_as_buttons(live_catalog: str) -> None:
    messages, _ = run(ActionAnswerService(), tracker("ทำบัตรประชาชนกี่บาท", service="id-card", topic="fee"))
    buttons = [b for m in messages for b in m.get("buttons") or []]
    assert buttons
    for button in buttons:
        assert button["payload"].startswith(ASK)
        entities = json.loads(button["payload"][len(ASK) :])
        assert entities["service"] == "id-card"
        assert entities["topic"] != "fee"


def test_a_second_service_in_the_question_is_offered_as_a_button(live_catalog: str) -> None:
    trk = tracker(
        "ทำพาสปอร์ตกับบัตรประชาชนใช้เอกสารอะไรบ้าง",
        service="passport",
        mentions=[
            {"text": "ทำพาสปอร์ต", "services": ["passport"]},
            {"text": "บัตรประชาชน", "services": ["id-card"]},
        ],
        topic="documents",
    )
    messages, _ = run(ActionAnswerService(), trk)
    assert envelope(messages)["service_id"] == "passport"
    payloads = [json.loads(b["payload"][len(ASK) :]) for m in messages for b in m.get("buttons") or []]
    assert {"service": "id-card", "topic": "documents"} in payloads


def test_a_close_second_topic_the_catalog_answers_replaces_an_empty_one(live_catalog: str) -> None:
    # The record says nothing on processing time but gives the filing deadline.
    assert not record_of(live_catalog, "income-tax-filing")["processing_time"]
    trk = tracker(
        "ยื่นออนไลน์ได้เวลาเพิ่มกี่วัน",
        service="income-tax-filing",
        topic="processing_time",
        topic_ranking=ranking(("processing_time", 0.55), ("deadline", 0.35), ("fee", 0.05)),
    )
    messages, events = run(ActionAnswerService(), trk)
    assert envelope(messages)["topic"] == "deadline"
    assert SlotSet("topic", "deadline") in events


def test_a_topic_from_a_button_is_answered_as_asked(live_catalog: str) -> None:
    trk = tracker(
        "/ask_service",
        service="income-tax-filing",
        topic="processing_time",
        topic_ranking=ranking(("processing_time", 0.55), ("deadline", 0.35)),
        entities=[
            {"entity": "service", "value": "income-tax-filing"},
            {"entity": "topic", "value": "processing_time"},
        ],
    )
    messages, _ = run(ActionAnswerService(), trk)
    assert envelope(messages)["topic"] == "processing_time"


def test_two_services_asked_at_once_answer_the_first_and_offer_the_second(live_catalog: str) -> None:
    trk = tracker(
        "ทำพาสปอร์ตกับต่อใบขับขี่ต้องใช้อะไรบ้าง",
        service="passport",
        ambiguous=True,
        service_ranking=ranking(("driving-licence-renewal", 0.48), ("passport", 0.45)),
        mentions=[
            {"text": "ทำพาสปอร์ต", "services": ["passport"]},
            {"text": "ต่อใบขับขี่", "services": ["driving-licence-renewal"]},
        ],
        topic="documents",
    )
    messages, _ = run(ActionAnswerService(), trk)
    assert (envelope(messages)["kind"], envelope(messages)["service_id"]) == ("answer", "passport")
    payloads = [json.loads(b["payload"][len(ASK) :]) for m in messages for b in m.get("buttons") or []]
    assert {"service": "driving-licence-renewal", "topic": "documents"} in payloads


# -- asking back -------------------------------------------------------------------------------------------
def test_an_ambiguous_service_is_asked_back_with_buttons(live_catalog: str) -> None:
    both = ["driving-licence-new", "driving-licence-renewal"]
    trk = tracker(
        "ใบขับขี่กี่บาทคะ",
        service="driving-licence-new",
        service_confidence=0.46,
        ambiguous=True,
        service_ranking=ranking(
            ("driving-licence-new", 0.46), ("driving-licence-renewal", 0.44), ("none", 0.1)
        ),
        mentions=[{"text": "ใบขับขี่", "services": both}],
        topic="fee",
    )
    messages, _ = run(ActionAnswerService(), trk)
    reply = envelope(messages)
    assert reply["kind"] == "clarify"
    assert reply["options"] == both
    buttons = [b for m in messages for b in m.get("buttons") or []]
    assert len(buttons) == 2
    for button, service in zip(buttons, both, strict=True):
        assert button["payload"].startswith(ASK)
        assert json.loads(button["payload"][len(ASK) :]) == {"service": service, "topic": "fee"}
        assert button["title"] == record_of(live_catalog, service)["name"]["th"]


def tax_question(topic: str, discussed: str | None) -> Tracker:
    both = ["income-tax-filing", "tax-refund"]
    return tracker(
        "ติดต่อสรรพากรได้ทางไหน",
        service="income-tax-filing",
        service_confidence=0.5,
        ambiguous=True,
        service_ranking=ranking(("income-tax-filing", 0.5), ("tax-refund", 0.45), ("none", 0.05)),
        mentions=[{"text": "สรรพากร", "services": both}],
        topic=topic,
        slots={"service": discussed, "topic": "steps" if discussed else None},
    )


def test_services_that_answer_alike_are_not_asked_back_in_their_conversation(live_catalog: str) -> None:
    filing, refund = (record_of(live_catalog, s) for s in ("income-tax-filing", "tax-refund"))
    assert filing["contact"] == refund["contact"]
    assert filing["competent_authority"] == refund["competent_authority"]
    messages, events = run(ActionAnswerService(), tax_question("contact", "tax-refund"))
    reply = envelope(messages)
    assert (reply["kind"], reply["service_id"], reply["topic"]) == ("answer", "tax-refund", "contact")
    assert refund["contact"]["hotline"] in text_of(messages)
    assert SlotSet("service", "tax-refund") in events


def test_services_that_answer_differently_are_asked_back_in_their_conversation(live_catalog: str) -> None:
    filing, refund = (record_of(live_catalog, s) for s in ("income-tax-filing", "tax-refund"))
    assert filing["documents"] != refund["documents"]
    reply = envelope(run(ActionAnswerService(), tax_question("documents", "tax-refund"))[0])
    assert reply["kind"] == "clarify" and reply["options"] == ["income-tax-filing", "tax-refund"]


def test_services_that_answer_alike_are_asked_back_with_nothing_discussed(live_catalog: str) -> None:
    reply = envelope(run(ActionAnswerService(), tax_question("contact", None))[0])
    assert reply["kind"] == "clarify"


def test_a_follow_up_with_nothing_discussed_is_asked_back(live_catalog: str) -> None:
    trk = tracker(
        "แล้วต้องเตรียมอะไรไปบ้าง", service="none", service_ranking=ranking(("none", 0.9)), topic="documents"
    )
    assert envelope(run(ActionAnswerService(), trk)[0])["kind"] == "clarify"


def test_a_button_payload_entity_wins_over_the_prediction(live_catalog: str) -> None:
    trk = tracker(
        '/ask_service{"service": "id-card", "topic": "documents"}',
        service="passport",
        topic="fee",
        entities=[{"entity": "service", "value": "id-card"}, {"entity": "topic", "value": "documents"}],
        slots={"service": "passport"},
    )
    messages, _ = run(ActionAnswerService(), trk)
    reply = envelope(messages)
    assert (reply["kind"], reply["service_id"], reply["topic"]) == ("answer", "id-card", "documents")


def test_a_service_no_catalog_holds_is_asked_back(live_catalog: str) -> None:
    trk = tracker(entities=[{"entity": "service", "value": "moon-visa"}], topic="fee")
    reply = envelope(run(ActionAnswerService(), trk)[0])
    assert reply["kind"] == "clarify"


def test_action_clarify_offers_the_likely_services(live_catalog: str) -> None:
    trk = tracker(
        "อยากถามเรื่องเบี้ย",
        intent="nlu_fallback",
        service="elderly-allowance",
        ambiguous=True,
        service_ranking=ranking(
            ("elderly-allowance", 0.4), ("disability-allowance", 0.35), ("none", 0.2), ("passport", 0.01)
        ),
        topic="benefit",
    )
    messages, _ = run(ActionClarify(), trk)
    reply = envelope(messages)
    assert reply["kind"] == "clarify"
    assert reply["options"] == ["elderly-allowance", "disability-allowance"]
    payloads = [b["payload"] for m in messages for b in m.get("buttons") or []]
    assert [json.loads(p[len(ASK) :]) for p in payloads] == [
        {"service": "elderly-allowance", "topic": "benefit"},
        {"service": "disability-allowance", "topic": "benefit"},
    ]


def test_action_clarify_without_candidates_suggests_how_to_ask(live_catalog: str) -> None:
    trk = tracker("อืม", intent="nlu_fallback", service="none", service_ranking=ranking(("none", 0.9)))
    messages, events = run(ActionClarify(), trk)
    # It is also Rasa's fallback when no rule fits: it must end the bot's turn.
    assert events[-1] == FollowupAction("action_listen")
    reply = envelope(messages)
    assert reply["kind"] == "clarify"
    assert not reply.get("options")
    assert "1111" in text_of(messages)


def test_asked_back_twice_in_a_row_a_person_is_offered(live_catalog: str) -> None:
    trk = after(
        tracker("อืม", intent="nlu_fallback", service="none", service_ranking=ranking(("none", 0.9))),
        "clarify",
    )
    messages, _ = run(ActionClarify(), trk)
    reply = envelope(messages)
    assert reply["kind"] == "clarify"
    assert reply["options"] == [HUMAN_OPTION]
    assert human_buttons(messages) == [{"title": HUMAN_BUTTON_TITLE, "payload": HUMAN_PAYLOAD}]


def test_the_second_ask_back_keeps_its_options_next_to_the_person(live_catalog: str) -> None:
    both = ["driving-licence-new", "driving-licence-renewal"]
    trk = after(
        tracker(
            "ใบขับขี่",
            service=both[0],
            ambiguous=True,
            service_confidence=0.46,
            service_ranking=ranking((both[0], 0.46), (both[1], 0.44)),
            mentions=[{"text": "ใบขับขี่", "services": both}],
            topic="fee",
        ),
        "answer",
        "clarify",
    )
    messages, _ = run(ActionAnswerService(), trk)
    reply = envelope(messages)
    assert reply["options"] == [*both, HUMAN_OPTION]
    payloads = [b["payload"] for m in messages for b in m.get("buttons") or []]
    assert len(payloads) == 3 and payloads[-1] == HUMAN_PAYLOAD


@pytest.mark.parametrize("earlier", [(), ("answer",), ("clarify", "answer"), ("clarify", "greet")])
def test_a_first_ask_back_offers_no_person(live_catalog: str, earlier: tuple[str, ...]) -> None:
    trk = after(
        tracker("อืม", intent="nlu_fallback", service="none", service_ranking=ranking(("none", 0.9))), *earlier
    )
    messages, _ = run(ActionClarify(), trk)
    assert envelope(messages)["kind"] == "clarify"
    assert not human_buttons(messages)
    assert HUMAN_OPTION not in envelope(messages)["options"]


# -- feedback on an answer --------------------------------------------------------------------------------
def feedback(value: str | None = None, slots: dict[str, Any] | None = None) -> Tracker:
    entities = [{"entity": "value", "value": value}] if value else []
    text = f'/feedback{{"value": "{value}"}}' if value else "ไม่ได้ช่วยอะไรเลย"
    return tracker(text, intent="feedback", entities=entities, slots=slots)


def test_a_helpful_rating_is_thanked() -> None:
    messages, events = run(ActionFeedback(), feedback("helpful", {"service": "passport"}))
    assert envelope(messages) == {"kind": "thanks"}
    assert text_of(messages).endswith("ค่ะ") or text_of(messages).endswith("นะคะ")
    assert not human_buttons(messages) and events == []


@pytest.mark.parametrize("value", ["unhelpful", None, "something-else"])
def test_an_unhelpful_rating_offers_a_person_and_the_agency_line(
    live_catalog: str, value: str | None
) -> None:
    messages, _ = run(ActionFeedback(), feedback(value, {"service": "id-card", "topic": "fee"}))
    reply = envelope(messages)
    assert reply == {"kind": "clarify", "options": [HUMAN_OPTION], "service_id": "id-card", "topic": "fee"}
    assert human_buttons(messages) == [{"title": HUMAN_BUTTON_TITLE, "payload": HUMAN_PAYLOAD}]
    text = text_of(messages)
    assert text.startswith("ขออภัย")
    assert record_of(live_catalog, "id-card")["contact"]["hotline"] in text


def test_an_unhelpful_rating_with_nothing_discussed_still_offers_a_person(live_catalog: str) -> None:
    messages, _ = run(ActionFeedback(), feedback("unhelpful"))
    assert envelope(messages) == {"kind": "clarify", "options": [HUMAN_OPTION]}
    assert human_buttons(messages)


def test_an_ask_back_after_an_unhelpful_rating_offers_a_person_again(live_catalog: str) -> None:
    trk = after(
        tracker("อืม", intent="nlu_fallback", service="none", service_ranking=ranking(("none", 0.9))),
        "answer",
        "clarify",
    )
    assert human_buttons(run(ActionClarify(), trk)[0])


# -- the detail form -----------------------------------------------------------------------------------
def test_elderly_benefit_without_age_asks_nothing_when_the_tiers_fit_a_phone(live_catalog: str) -> None:
    assert required_slots(tracker("เบี้ยคนแก่ได้เท่าไหร่", service="elderly-allowance", topic="benefit")) == []


def test_elderly_benefit_without_age_asks_the_age(live_catalog: str, short_screen: None) -> None:
    assert required_slots(tracker("เบี้ยคนแก่ได้เท่าไหร่", service="elderly-allowance", topic="benefit")) == ["age"]


def test_elderly_benefit_with_the_age_known_asks_nothing(live_catalog: str) -> None:
    trk = tracker("เบี้ยคนแก่ได้เท่าไหร่", service="elderly-allowance", topic="benefit", slots={"age": 75.0})
    assert required_slots(trk) == []


def test_new_driving_licence_fee_asks_the_vehicle(live_catalog: str, short_screen: None) -> None:
    trk = tracker("สอบใบขับขี่ใหม่เสียเงินเท่าไหร่", service="driving-licence-new", topic="fee")
    assert required_slots(trk) == ["vehicle"]
    trk = tracker(
        "สอบใบขับขี่ใหม่เสียเงินเท่าไหร่", service="driving-licence-new", topic="fee", slots={"vehicle": "motorcycle"}
    )
    assert required_slots(trk) == []


def test_documents_need_no_detail(live_catalog: str) -> None:
    assert required_slots(tracker("ใช้เอกสารอะไร", service="elderly-allowance", topic="documents")) == []
    assert required_slots(tracker("ใช้เอกสารอะไร", service="driving-licence-new", topic="documents")) == []


def test_an_unsure_question_asks_no_detail(live_catalog: str) -> None:
    trk = tracker(
        "เบี้ยได้เท่าไหร่",
        service="elderly-allowance",
        ambiguous=True,
        service_ranking=ranking(("elderly-allowance", 0.4), ("disability-allowance", 0.38)),
        mentions=[{"text": "เบี้ย", "services": ["disability-allowance", "elderly-allowance"]}],
        topic="benefit",
    )
    assert required_slots(trk) == []


def test_the_form_requests_the_age_and_remembers_the_question(
    live_catalog: str, domain: dict, short_screen: None
) -> None:
    trk = tracker(
        "ยายได้เบี้ยยังชีพเท่าไหร่",
        service="elderly-allowance",
        topic="benefit",
        active_loop={"name": "detail_form"},
    )
    _, events = run(ValidateDetailForm(), trk, domain)
    assert SlotSet("service", "elderly-allowance") in events
    assert SlotSet("topic", "benefit") in events
    assert SlotSet("requested_slot", "age") in events


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("ขอบคุณค่ะ", "thanks"),
        ("สวัสดีค่ะ", "greet"),
        ("ขอคุยกับเจ้าหน้าที่", "request_human"),
        ("ไม่ได้ช่วยเลย", "feedback"),
        ("หิวข้าว", "out_of_scope"),
    ],
)
def test_a_message_that_gives_no_detail_lets_the_form_step_aside(
    live_catalog: str, domain: dict, text: str, intent: str
) -> None:
    # Rasa rejects the form, so that the "... while a detail is asked" rules answer, only when
    # the validation sets no slot but requested_slot. Re-setting service and topic to the values
    # they already have counts as a filled slot: the form would ask for the age again instead.
    trk = tracker(
        text,
        intent=intent,
        slots={"service": "elderly-allowance", "topic": "benefit", "requested_slot": "age"},
        active_loop={"name": "detail_form", "validate": True},
    )
    _, events = run(ValidateDetailForm(), trk, domain)
    assert [e for e in events if e["event"] == "slot" and e["name"] != "requested_slot"] == []


def test_the_form_rejects_an_age_that_is_not_one(live_catalog: str) -> None:
    dispatcher = CollectingDispatcher()
    form = ValidateDetailForm()
    assert form.validate_age("อายุ 300", dispatcher, tracker(), {}) == {"age": None}
    assert dispatcher.messages  # it says what it wants
    assert form.validate_age("แม่อายุ ๗๕ ค่ะ", CollectingDispatcher(), tracker(), {}) == {"age": 75.0}
    assert form.validate_age("ยายอายุแปดสิบสองค่ะ", CollectingDispatcher(), tracker(), {}) == {"age": 82.0}
    assert form.validate_validity_years("เล่มสิบปี", CollectingDispatcher(), tracker(), {}) == {
        "validity_years": 10.0
    }
    assert form.validate_vehicle("bus", CollectingDispatcher(), tracker(), {}) == {"vehicle": None}


@pytest.mark.parametrize(("action", "slot"), [(AskAge(), "age"), (AskVehicle(), "vehicle")])
def test_asking_a_detail_sends_a_form_envelope(action: Action, slot: str) -> None:
    trk = tracker(slots={"service": "elderly-allowance", "topic": "benefit"})
    messages, _ = run(action, trk)
    reply = envelope(messages)
    assert reply == {
        "kind": "form",
        "service_id": "elderly-allowance",
        "topic": "benefit",
        "requested_slot": slot,
    }
    assert text_of(messages)


# -- the catalog down --------------------------------------------------------------------------------------
def test_catalog_down_gives_an_error_envelope_and_the_conversation_goes_on(catalog_down: str) -> None:
    trk = tracker("ทำพาสปอร์ตกี่บาท", service="passport", topic="fee")
    messages, events = run(ActionAnswerService(), trk)
    reply = envelope(messages)
    assert reply["kind"] == "error"
    assert reply["service_id"] == "passport"
    assert "1111" in text_of(messages)
    # The question is kept so that the citizen can ask again when the catalog is back.
    assert SlotSet("service", "passport") in events
    # Nothing else breaks: the form asks nothing, a handoff still works.
    assert required_slots(tracker("เบี้ยได้เท่าไหร่", service="elderly-allowance", topic="benefit")) == []
    handoff = run(ActionHandoff(), tracker(intent="request_human", slots={"service": "passport"}))[0]
    assert envelope(handoff)["kind"] == "handoff"
    assert "1111" in text_of(handoff)


def test_the_stale_cache_serves_the_last_good_record(catalog_url: str) -> None:
    client = CatalogClient([Catalog("test", catalog_url, None)], stale_ttl=600, retries=0)
    fresh, source = client.service("passport")
    assert source.url == catalog_url
    client.catalogs = [Catalog("test", dead_url(), None)]
    stale, _ = client.service("passport")
    assert stale == fresh
    with pytest.raises(CatalogUnavailable):
        client.service("id-card")  # never fetched, so nothing to fall back on


def test_every_use_asks_the_catalog_with_the_etag_and_a_304_keeps_the_copy(catalog_url: str) -> None:
    client = CatalogClient([Catalog("test", catalog_url, None)], retries=0)
    sent: list[tuple[str | None, int]] = []
    client.session.hooks["response"].append(
        lambda response, *args, **kwargs: sent.append(
            (response.request.headers.get("If-None-Match"), response.status_code)
        )
    )
    first, _ = client.service("passport")
    again, _ = client.service("passport")
    assert again is first  # the copy kept: the catalog sent no body
    assert [status for _, status in sent] == [200, 304]
    assert sent[0][0] is None and sent[1][0] and sent[1][0].startswith('"')


def _edit(catalog_url: str, service_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """An agency's edit through the catalog's admin API (the gateway's way in)."""
    request = urllib.request.Request(
        f"{catalog_url}/admin/services/{service_id}",
        method="PATCH",
        data=json.dumps({"by": "test", "fields": fields}).encode(),
        headers={"Authorization": f"Bearer {TEST_CATALOG_ADMIN_TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["record"]


def test_an_agencys_edit_is_served_at_the_next_use(catalog_url: str) -> None:
    client = CatalogClient([Catalog("test", catalog_url, None)], retries=0)
    before, _ = client.service("vehicle-tax")
    edited = _edit(catalog_url, "vehicle-tax", {"processing_time": "ได้ป้ายภาษีทันทีค่ะ"})
    try:
        after, _ = client.service("vehicle-tax")
        assert after == edited and after["processing_time"] == "ได้ป้ายภาษีทันทีค่ะ" != before["processing_time"]
    finally:
        _edit(catalog_url, "vehicle-tax", {"processing_time": before["processing_time"]})
    assert client.service("vehicle-tax")[0]["processing_time"] == before["processing_time"]


def test_no_stale_copy_past_its_age(catalog_url: str) -> None:
    client = CatalogClient([Catalog("test", catalog_url, None)], stale_ttl=0.0, retries=0)
    client.service("passport")
    client.catalogs = [Catalog("test", dead_url(), None)]
    with pytest.raises(CatalogUnavailable):
        client.service("passport")


def test_a_catalog_that_answers_without_the_service(catalog_url: str) -> None:
    client = CatalogClient([Catalog("test", catalog_url, None)], retries=0)
    with pytest.raises(ServiceNotFound):
        client.service("no-such-service")


def test_a_catalog_is_asked_only_for_its_services(catalog_url: str) -> None:
    client = CatalogClient(
        [Catalog("tax office", dead_url(), ("income-tax-filing",)), Catalog("main", catalog_url, None)],
        retries=0,
    )
    record, source = client.service("passport")
    assert (record["id"], source.name) == ("passport", "main")


# -- handoff -----------------------------------------------------------------------------------------------
def test_handoff_names_the_agency_hotline(live_catalog: str) -> None:
    messages, _ = run(
        ActionHandoff(), tracker("ขอคุยกับคน", intent="request_human", slots={"service": "id-card"})
    )
    reply = envelope(messages)
    assert reply == {"kind": "handoff", "service_id": "id-card"}
    text = text_of(messages)
    assert "1111" in text
    assert record_of(live_catalog, "id-card")["contact"]["hotline"] in text


def test_handoff_without_a_service_points_to_1111(live_catalog: str) -> None:
    messages, _ = run(ActionHandoff(), tracker("ขอคุยกับเจ้าหน้าที่", intent="request_human"))
    assert envelope(messages) == {"kind": "handoff"}
    assert "1111" in text_of(messages)


def test_handoff_says_a_person_takes_over_in_this_chat(live_catalog: str) -> None:
    # The gateway appends the queue position or the office hours after this text.
    text = text_of(run(ActionHandoff(), tracker(intent="request_human"))[0])
    assert "เจ้าหน้าที่" in text and "ในแชทนี้" in text
    assert text.endswith("ค่ะ")


def test_handoff_does_not_repeat_1111_as_the_agency_line(live_catalog: str) -> None:
    # The elderly allowance's own hotline is 1111: one line says it.
    messages, _ = run(
        ActionHandoff(), tracker(intent="request_human", slots={"service": "elderly-allowance"})
    )
    assert text_of(messages).count("1111") == 1


# -- fixed replies that point to the hotline ----------------------------------------------------------------
FIXED_REPLIES = [
    (ActionBotChallenge(), "bot_challenge", "bot_challenge"),
    (ActionOutOfScope(), "out_of_scope", "out_of_scope"),
    (ActionUncoveredService(), "ask_uncovered_service", "out_of_scope"),
]


@pytest.mark.parametrize(
    ("action", "intent", "kind"), FIXED_REPLIES, ids=[action.name() for action, _, _ in FIXED_REPLIES]
)
def test_a_fixed_reply_is_its_text_then_its_envelope(action: FixedReply, intent: str, kind: str) -> None:
    # The two messages a domain response `{text: ..., custom: {kind: ...}}` gave the channels.
    messages, events = run(action, tracker("", intent=intent, slots={"service": "passport"}))
    assert events == []
    assert len(messages) == 2 and envelope(messages) == {"kind": kind}
    assert messages[0]["text"] == action.text and not messages[0]["buttons"] and not messages[0]["custom"]
    assert f"โทร {GOVERNMENT_HOTLINE} " in action.text
    assert action.text.endswith("ค่ะ")


def test_a_service_not_covered_also_gives_the_website() -> None:
    messages, _ = run(ActionUncoveredService(), tracker(intent="ask_uncovered_service"))
    assert f"หรือ {GOVERNMENT_WEBSITE} ค่ะ" in text_of(messages)


def test_the_bot_challenge_tells_how_to_reach_a_person() -> None:
    assert '"ขอคุยกับเจ้าหน้าที่"' in ActionBotChallenge.text


def test_the_fixed_replies_are_in_the_domain_and_the_rules(domain: dict[str, Any]) -> None:
    names = {action.name() for action, _, _ in FIXED_REPLIES}
    assert names <= set(domain["actions"])
    rules = yaml.safe_load((REPO_ROOT / "data" / "rules.yml").read_text(encoding="utf-8"))["rules"]
    for action, intent, _ in FIXED_REPLIES:
        last_actions = [
            [s["action"] for s in rule["steps"] if "action" in s][-1]
            for rule in rules
            if any(s.get("intent") == intent for s in rule["steps"])
        ]
        # one rule on its own, one while the detail form waits (it closes the form first)
        assert last_actions == [action.name(), action.name()], intent
    texts = [v.get("text", "") for variants in domain["responses"].values() for v in variants]
    assert not [t for t in texts if GOVERNMENT_HOTLINE in t], "replies naming the hotline are actions"


def test_feedback_is_in_the_domain_and_the_rules(domain: dict[str, Any]) -> None:
    assert "feedback" in domain["intents"] and "value" in domain["entities"]
    assert "action_feedback" in domain["actions"]
    rules = yaml.safe_load((REPO_ROOT / "data" / "rules.yml").read_text(encoding="utf-8"))["rules"]
    last_actions = [
        [s["action"] for s in rule["steps"] if "action" in s][-1]
        for rule in rules
        if any(s.get("intent") == "feedback" for s in rule["steps"])
    ]
    assert last_actions == ["action_feedback", "action_feedback"]  # alone, and while the form waits


def test_the_action_server_registers_every_action_of_the_domain(domain: dict[str, Any]) -> None:
    executor = ActionExecutor()
    executor.register_package("actions")
    assert set(domain["actions"]) <= set(executor.actions)
    assert inspect.isabstract(FixedReply)  # which the action server does not register
