"""The patches of bot/rasa_patches.py give Rasa's own answers."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from conftest import MODEL_PATH
from rasa.core.actions.action import RemoteAction
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
from rasa.shared.core.events import ActionExecuted, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.utils.common import all_subclasses

from bot import rasa_patches

BUTTONS = [{"title": "ค่าธรรมเนียม", "payload": '/ask_service{"service": "passport"}'}]
VALID = [
    {"events": [], "responses": []},
    {
        "events": [
            {"event": "slot", "timestamp": None, "name": "service", "value": "passport"},
            {"event": "active_loop", "name": None},
            {"event": "followup", "name": "action_answer_service"},
            {"event": "bot", "text": "ค่าธรรมเนียม 1,000 บาทค่ะ", "data": {"buttons": BUTTONS}},
        ],
        "responses": [{"text": "ค่าธรรมเนียม 1,000 บาทค่ะ", "buttons": BUTTONS, "custom": {"kind": "answer"}}],
    },
    {"events": [{"event": "user", "text": "สวัสดี", "parse_data": {"intent": {"name": "greet"}}}]},
    {"events": [{"event": "bot", "text": 5}]},  # Rasa's schema leaves a bot text's type open
    {"responses": [{"text": "ok"}]},
]
INVALID = [
    [],
    {"events": {"event": "slot"}},
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"name": "service", "value": "passport"}]},
    {"events": [{"event": "slot", "name": "service"}]},
    {"events": [{"event": "slot", "name": "service", "value": "x", "timestamp": "yesterday"}]},
    {"events": [{"event": "user", "parse_data": {"entities": [{"start": 0}]}}]},
    {"events": ["slot"]},
    {"events": [{"event": "slot", "name": "a", "value": 1}, {"event": "user", "text": 3}]},
]


def rasa_says_valid(result: Any) -> bool:
    try:
        jsonschema.validate(result, RemoteAction.action_response_format_spec())
    except jsonschema.ValidationError:
        return False
    return True


@pytest.mark.parametrize("result", VALID)
def test_valid_replies_pass_as_in_rasa(result: dict[str, Any]) -> None:
    assert rasa_says_valid(result)
    assert RemoteAction("action_answer_service", None)._validate_action_result(result)


@pytest.mark.parametrize("result", INVALID)
def test_invalid_replies_fail_as_in_rasa(result: Any) -> None:
    assert not rasa_says_valid(result)
    with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server response"):
        RemoteAction("action_answer_service", None)._validate_action_result(result)


def test_every_event_schema_is_told_apart_by_its_name() -> None:
    validator = rasa_patches._reply_validator()
    schema = RemoteAction.action_response_format_spec()
    assert len(validator.by_name) == len(schema["properties"]["events"]["items"]["oneOf"])


def test_event_classes_resolve_as_in_rasa() -> None:
    names = {cls.type_name for cls in all_subclasses(Event)}
    for name in names:
        assert Event.resolve_by_type(name) is rasa_patches._rasa_resolve_by_type(name)
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no_such_event", default=Event) is Event
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no_such_event")


@pytest.fixture(scope="module")
def agent() -> Agent:
    if not MODEL_PATH.exists():
        pytest.skip("no trained model: `make train`")
    return Agent.load(str(MODEL_PATH))


def test_the_graph_runs_as_with_dask(agent: Agent) -> None:
    runner, metadata, domain = agent.processor.graph_runner, agent.processor.model_metadata, agent.domain
    tracker = DialogueStateTracker.from_events(
        "patch-test",
        [ActionExecuted("action_listen"), UserUttered("ทำพาสปอร์ตกี่บาท", {"name": "ask_service"})],
        domain.slots,
    )
    texts = ["ทำพาสปอร์ตกี่บาท", "เบี้ยคนแก่ได้เดือนละเท่าไหร่ แล้วต้องใช้เอกสารอะไร", "สวัสดีครับ", "ฟหกดฟหกด"]
    for text in texts:
        inputs = {PLACEHOLDER_MESSAGE: [UserMessage(text, message_id="m")], PLACEHOLDER_TRACKER: tracker}
        ours, dasks = (
            [m.as_dict(only_output_properties=True) for m in run(runner, inputs, [metadata.nlu_target])[
                metadata.nlu_target]]
            for run in (rasa_patches._run_graph, rasa_patches._rasa_run_graph)
        )
        assert ours == dasks

    ours, dasks = (
        run(runner, {PLACEHOLDER_TRACKER: tracker}, [metadata.core_target])[metadata.core_target]
        for run in (rasa_patches._run_graph, rasa_patches._rasa_run_graph)
    )
    assert (ours.policy_name, ours.probabilities) == (dasks.policy_name, dasks.probabilities)
