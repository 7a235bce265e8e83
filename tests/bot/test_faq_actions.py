"""An FAQ entry answers before the topic's field (actions/service_actions.py), against the real
catalog service (`catalog_url`), with rasa_sdk's Tracker and CollectingDispatcher."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from support import TEST_CATALOG_ADMIN_TOKEN, free_port

from actions import catalog as action_catalog
from actions.catalog_client import Catalog, CatalogClient, CatalogUnavailable
from actions.service_actions import ActionAnswerService
from contract.replies import FAQ_ID, FEEDBACK_VALUES

LATE = "vehicle-tax-late"


def tracker(
    faq: dict[str, Any] | None, *, service: str = "vehicle-tax", topic: str = "penalty",
    entities: list[dict[str, Any]] | None = None, text: str = "ต่อภาษีรถช้าไปสองเดือน โดนปรับไหมคะ",
) -> Tracker:  # fmt: skip
    """A tracker whose latest message is the NLU's reading of a question, with FaqMatcher's `faq`."""
    latest = {
        "text": text,
        "intent": {"name": "ask_service", "confidence": 0.9},
        "entities": entities or [],
        "service": {"name": service, "confidence": 0.9, "ambiguous": False,
                    "ranking": [{"name": service, "confidence": 0.9}], "mentions": []},
        "topic": {"name": topic, "confidence": 0.8, "ambiguous": False,
                  "ranking": [{"name": topic, "confidence": 0.8}]},
        "faq": faq,
    }  # fmt: skip
    names = ("service", "topic", "age", "vehicle", "validity_years", "requested_slot", "needs_detail")
    slots = dict.fromkeys(names)
    return Tracker("faq-user", slots, latest, [], False, None, {}, "action_listen")


def run(trk: Tracker) -> tuple[list[dict], list[Any]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionAnswerService().run(dispatcher, trk, {}))
    return dispatcher.messages, events


def entry(catalog_url: str, service: str, faq_id: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{catalog_url}/services/{service}/faq/{faq_id}", timeout=5) as response:
        return json.loads(response.read())


def edit(catalog_url: str, service: str, faq_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{catalog_url}/admin/services/{service}/faq/{faq_id}",
        data=json.dumps({"by": "test", "fields": fields}).encode(),
        headers={"Authorization": f"Bearer {TEST_CATALOG_ADMIN_TOKEN}", "Content-Type": "application/json"},
        method="PATCH",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture
def live_catalog(catalog_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The actions' shared client pointed at the real catalog (a fresh client, an empty cache)."""
    monkeypatch.delenv("CATALOGS_FILE", raising=False)
    monkeypatch.setenv("CATALOG_URL", catalog_url)
    action_catalog.client.cache_clear()
    yield catalog_url
    action_catalog.client.cache_clear()


def test_a_matched_entry_answers_with_its_short_answer_source_and_date(live_catalog: str) -> None:
    faq = entry(live_catalog, "vehicle-tax", LATE)
    messages, events = run(tracker({"id": LATE, "confidence": 0.71}))
    reply = messages[-1]["custom"]
    assert reply["kind"] == "answer" and reply["service_id"] == "vehicle-tax"
    assert reply["topic"] == "penalty" and reply[FAQ_ID] == LATE
    assert reply["source_url"] == faq["source_url"] and reply["updated"] == faq["updated"]
    assert reply["card"]["facts"] == [faq["answer"]] and reply["feedback"] == list(FEEDBACK_VALUES)
    text = messages[0]["text"]
    assert faq["answer"] in text and faq["answer"].startswith("โดนค่ะ") and text.count("\n") <= 3
    # The topic's whole field is one tap away.
    field = '/ask_service{"service": "vehicle-tax", "topic": "penalty"}'
    assert messages[0]["buttons"][0]["payload"] == field
    assert SlotSet("service", "vehicle-tax") in events and SlotSet("topic", "penalty") in events


def test_the_entrys_topic_is_the_answers(live_catalog: str) -> None:
    # The topic classifier read "fee"; the entry the question asks is about the penalty.
    reply = run(tracker({"id": LATE, "confidence": 0.7}, topic="fee"))[0][-1]["custom"]
    assert reply["topic"] == "penalty" and reply[FAQ_ID] == LATE


def test_without_a_match_the_topics_field_answers_as_before(live_catalog: str) -> None:
    messages, _ = run(tracker(None))
    reply = messages[-1]["custom"]
    assert reply["kind"] == "answer" and FAQ_ID not in reply and reply["topic"] == "penalty"
    assert "ร้อยละ 1" in messages[0]["text"]


def test_an_entry_of_another_service_or_none_at_all_is_not_used(live_catalog: str) -> None:
    for faq in ({"id": "passport-queue", "confidence": 0.9}, {"id": "no-such-entry", "confidence": 0.9}):
        reply = run(tracker(faq))[0][-1]["custom"]
        assert FAQ_ID not in reply and reply["service_id"] == "vehicle-tax"


def test_a_buttons_question_gets_the_field_not_an_entry(live_catalog: str) -> None:
    button = [{"entity": "service", "value": "vehicle-tax"}, {"entity": "topic", "value": "penalty"}]
    reply = run(tracker({"id": LATE, "confidence": 0.9}, entities=button))[0][-1]["custom"]
    assert FAQ_ID not in reply


def test_an_answer_the_agency_edits_is_the_next_answer(live_catalog: str) -> None:
    before = entry(live_catalog, "vehicle-tax", LATE)
    changed = "โดนค่ะ ชำระล่าช้าเสียเงินเพิ่มร้อยละ 1 ต่อเดือนค่ะ (แก้ไขโดยหน่วยงาน)"
    try:
        edit(live_catalog, "vehicle-tax", LATE, {"answer": changed})
        messages, _ = run(tracker({"id": LATE, "confidence": 0.8}))
        assert changed in messages[0]["text"]
    finally:
        edit(live_catalog, "vehicle-tax", LATE, {"answer": before["answer"], "updated": before["updated"]})


def test_the_client_keeps_the_last_good_entry_while_the_catalog_is_down(catalog_url: str) -> None:
    catalog = Catalog("test", catalog_url, None)
    client = CatalogClient([catalog], retries=0, timeout=1)
    assert client.faq_entry("vehicle-tax", LATE)["id"] == LATE
    assert client.faq_entry("vehicle-tax", "no-such-entry") is None
    client.catalogs = [Catalog("test", f"http://127.0.0.1:{free_port()}", None)]
    assert client.faq_entry("vehicle-tax", LATE)["id"] == LATE  # the copy
    with pytest.raises(CatalogUnavailable):
        client.faq_entry("vehicle-tax", "vehicle-tax-online")
