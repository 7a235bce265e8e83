"""FAQ entries end to end over Rasa's REST channel (issue 12): the NLU's FaqMatcher, the answer action,
the catalog's entries. One fresh sender per test; the messages are written for these tests, not taken
from the evaluation set (nor from catalog/faq, whose texts the model was trained on).
"""

from __future__ import annotations

import json
import random
import string
import urllib.request
from typing import Any

import pytest

from contract.replies import ANSWER, FAQ_ID

pytestmark = [pytest.mark.e2e, pytest.mark.needs_model]
TIMEOUT = 120


class Conversation:
    def __init__(self, rasa_url: str, token: str) -> None:
        self.rasa_url, self.token = rasa_url, token
        # Letters only: the channel masks digit runs that look like phone numbers, sender ids included.
        self.sender = "faq-" + "".join(random.choices(string.ascii_lowercase, k=20))

    def say(self, text: str) -> tuple[dict[str, Any], str]:
        """The turn's envelope and the text of its messages."""
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}
        body = json.dumps({"sender": self.sender, "message": text}, ensure_ascii=False).encode()
        request = urllib.request.Request(f"{self.rasa_url}/webhooks/rest/webhook", data=body, headers=headers)
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            messages = json.loads(response.read())
        envelope = messages[-1]["custom"]
        return envelope, "\n".join(m["text"] for m in messages if m.get("text"))


def entry(catalog_url: str, service: str, faq_id: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{catalog_url}/services/{service}/faq/{faq_id}", timeout=10) as response:
        return json.loads(response.read())


def test_a_yes_no_question_gets_the_entrys_short_answer(
    rasa_url: str, rest_token: str, stack_catalog: tuple[str, str]
) -> None:
    envelope, text = Conversation(rasa_url, rest_token).say("ค่าจดทะเบียนสมรสที่อำเภอต้องจ่ายไหมคะ")
    assert envelope["kind"] == ANSWER and envelope["service_id"] == "marriage-registration", envelope
    assert envelope.get(FAQ_ID) == "marriage-registration-fee", envelope
    faq = entry(stack_catalog[0], "marriage-registration", "marriage-registration-fee")
    assert envelope["topic"] == faq["topic"] and envelope["source_url"] == faq["source_url"]
    assert faq["answer"] in text and text.split("\n")[1].startswith("ไม่เสียค่ะ")


def test_a_follow_up_naming_no_service_gets_the_entry_of_the_service_discussed(
    rasa_url: str, rest_token: str
) -> None:
    chat = Conversation(rasa_url, rest_token)
    first, _ = chat.say("ต่ออายุใบขับขี่รถยนต์ห้าปีกี่บาทคะ")
    assert first["kind"] == ANSWER and first["service_id"] == "driving-licence-renewal", first
    envelope, text = chat.say("ถ้าปล่อยให้หมดอายุไปเกินสามปีแล้ว ต้องไปสอบใหม่หรือเปล่าคะ")
    assert envelope["kind"] == ANSWER and envelope["service_id"] == "driving-licence-renewal", envelope
    assert envelope.get(FAQ_ID) == "driving-licence-renewal-expired-retest", envelope
    assert "เกิน 3 ปี" in text and "ค่ะ" in text


def test_an_ordinary_topic_question_still_gets_the_topics_field(rasa_url: str, rest_token: str) -> None:
    envelope, text = Conversation(rasa_url, rest_token).say("ทำพาสปอร์ตเล่มห้าปีราคาเท่าไหร่ครับ")
    assert envelope["kind"] == ANSWER and envelope["service_id"] == "passport", envelope
    assert envelope["topic"] == "fee" and FAQ_ID not in envelope, envelope
    assert "1,000 บาท" in text
