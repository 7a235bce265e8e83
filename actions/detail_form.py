"""The detail form: ask for the one detail a personal answer needs.

Which detail is decided by the catalog record (actions/details.py): an elderly
allowance's benefits differ by age, a driving licence fee by vehicle, a passport fee
by validity. action_answer_service answers at once when the detail is known or nothing
depends on it; otherwise it sets `needs_detail` and a rule runs this form, which asks,
and answers through action_answer_service once the detail is given. A detail given
alone, or a new question while the form asks, also goes through the form.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.catalog import client
from actions.catalog_client import CatalogUnavailable, ServiceNotFound
from actions.details import known_details, needed_details, number_in
from actions.envelope import send
from actions.understanding import understand
from contract.replies import ASK_INTENT


class ValidateDetailForm(FormValidationAction):
    def name(self) -> str:
        return "validate_detail_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        question = understand(tracker)
        resolved: list[EventType] = []
        # Only a new question moves service and topic: setting them on any other message
        # would count as a filled slot and keep the form from stepping aside.
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        if intent == ASK_INTENT and not question.needs_clarifying:
            resolved = [SlotSet("service", question.service), SlotSet("topic", question.topic)]
            tracker.add_slots(resolved)
        return resolved + await super().run(dispatcher, tracker, domain)

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        question = understand(tracker)
        if question.needs_clarifying:
            return []
        try:
            record, _ = client().service(question.service)
        except (CatalogUnavailable, ServiceNotFound):
            return []  # action_answer_service tells the citizen what to do instead
        return needed_details(record, question.topic, known_details(tracker.current_slot_values()))

    def validate_age(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                     domain: DomainDict) -> dict[str, Any]:
        age = number_in(value)
        if age is None or not 0 < age < 130:
            dispatcher.utter_message(text="ขออภัยค่ะ ขอเป็นตัวเลขอายุ เช่น 75 ค่ะ")
            return {"age": None}
        return {"age": age}

    def validate_validity_years(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> dict[str, Any]:
        return {"validity_years": number_in(value)}

    def validate_vehicle(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                         domain: DomainDict) -> dict[str, Any]:
        return {"vehicle": value if value in ("car", "motorcycle") else None}


class AskDetail(Action):
    """Asks for one detail; the envelope says which service and topic it is for."""

    slot = ""
    text = ""
    buttons: tuple[dict[str, str], ...] = ()

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(text=self.text, buttons=list(self.buttons))
        send(dispatcher, "form", service_id=tracker.get_slot("service"), topic=tracker.get_slot("topic"),
             requested_slot=self.slot)
        return []


class AskAge(AskDetail):
    slot = "age"
    text = "จำนวนเงินขึ้นกับอายุค่ะ ผู้ที่จะรับสิทธิ์อายุเท่าไหร่คะ (พิมพ์ตัวเลข เช่น 75)"


class AskVehicle(AskDetail):
    slot = "vehicle"
    text = "ค่าธรรมเนียมขึ้นกับประเภทรถค่ะ เป็นรถยนต์หรือรถจักรยานยนต์คะ"
    buttons = (
        {"title": "รถยนต์", "payload": '/inform{"vehicle": "car"}'},
        {"title": "รถจักรยานยนต์", "payload": '/inform{"vehicle": "motorcycle"}'},
    )


class AskValidityYears(AskDetail):
    slot = "validity_years"
    text = "ต้องการเล่มอายุ 5 ปี หรือ 10 ปีคะ"
    buttons = (
        {"title": "5 ปี", "payload": '/inform{"validity_years": "5"}'},
        {"title": "10 ปี", "payload": '/inform{"validity_years": "10"}'},
    )
