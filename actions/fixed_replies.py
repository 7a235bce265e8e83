"""Fixed replies that point to the government hotline: "am I talking to a bot?", out of scope.

Their texts name the hotline (and the website), which contract/replies.py defines once; a
response in domain.yml cannot import it, so these replies are actions. Each sends its text
and ends the turn with the envelope of its kind, the two messages a response with
`custom: {kind: ...}` gave (docs/replies.md). Small talk without the hotline (greet,
goodbye, thanks) stays in domain.yml.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.envelope import send
from contract.replies import BOT_CHALLENGE, GOVERNMENT_HOTLINE, GOVERNMENT_WEBSITE, OUT_OF_SCOPE


class FixedReply(Action, ABC):
    """One text, then the envelope of `kind`. Abstract, so the action server registers only its subclasses."""

    @property
    @abstractmethod
    def action_name(self) -> str: ...

    @property
    @abstractmethod
    def kind(self) -> str: ...

    @property
    @abstractmethod
    def text(self) -> str: ...

    def name(self) -> str:
        return self.action_name

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(text=self.text)
        send(dispatcher, self.kind)
        return []


class ActionBotChallenge(FixedReply):
    action_name = "action_bot_challenge"
    kind = BOT_CHALLENGE
    text = (
        "ดิฉันเป็นผู้ช่วยอัตโนมัติ (แชทบอท) ตอบจากข้อมูลของหน่วยงานค่ะ หากต้องการคุยกับเจ้าหน้าที่ "
        f"พิมพ์ \"ขอคุยกับเจ้าหน้าที่\" หรือโทร {GOVERNMENT_HOTLINE} ค่ะ"
    )


class ActionOutOfScope(FixedReply):
    action_name = "action_out_of_scope"
    kind = OUT_OF_SCOPE
    text = (
        "ขออภัยค่ะ ดิฉันตอบได้เฉพาะเรื่องบริการภาครัฐ เช่น สวัสดิการ ใบอนุญาต ทะเบียนราษฎร์ และภาษี "
        f"เรื่องอื่นสอบถามศูนย์บริการข้อมูลภาครัฐ โทร {GOVERNMENT_HOTLINE} ค่ะ"
    )


class ActionUncoveredService(FixedReply):
    """A government service the catalog does not cover yet (ask_uncovered_service)."""

    action_name = "action_uncovered_service"
    kind = OUT_OF_SCOPE
    text = (
        "เรื่องนี้เป็นบริการของรัฐที่ดิฉันยังไม่มีข้อมูลค่ะ สอบถามได้ที่ศูนย์บริการข้อมูลภาครัฐ "
        f"โทร {GOVERNMENT_HOTLINE} (ตลอด 24 ชั่วโมง) หรือ {GOVERNMENT_WEBSITE} ค่ะ"
    )
