"""Changes to Rasa 3.6 internals that its configuration cannot make.

Imported by ``bot.nlu`` (the Rasa server and ``rasa train`` load our components, so the
patches are in place before the first message); harmless anywhere else. Each one keeps
Rasa's results and errors and only removes repeated work; tests/bot/test_rasa_patches.py
checks them against Rasa's own code.

- ``RemoteAction._validate_action_result``: Rasa checks every action server reply with
  ``jsonschema.validate``, which first re-validates the (constant) reply schema itself
  against the meta-schema, then tries each event against all 23 event schemas of a
  ``oneOf``. The schemas are told apart by the event's name (a ``const`` each), so the
  patched check validates an event only against the schema of its name, with a
  validator built once, and raises the same error as Rasa's when a reply is wrong.
- ``Event.resolve_by_type``: Rasa finds the class of a stored event by walking every
  subclass of ``Event`` (with ``inspect.isabstract`` on each) for every event it reads,
  which was the dearest part of reading a conversation back. The classes do not
  change while the server runs, so the lookup is kept in a dictionary.
- ``DaskGraphRunner.run``: every message and every prediction runs a graph of Rasa
  components through ``dask.get``, whose scheduling (ordering, queues, callbacks) cost
  about as much as the light components themselves. The graphs are small and run on
  one thread anyway, so the patched method calls the same nodes, each after the nodes
  it needs, with the same inputs and the same result.
"""

from __future__ import annotations

import functools
from typing import Any

from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses


class _ReplyValidator:
    """The reply schema, with the events' ``oneOf`` looked up by event name."""

    def __init__(self, schema: dict[str, Any]) -> None:
        cls = validator_for(schema)
        cls.check_schema(schema)
        self.whole = cls(schema)
        items = schema["properties"]["events"]["items"]
        alternatives = items["oneOf"]
        names = [alternative["properties"]["event"]["const"] for alternative in alternatives]
        if len(set(names)) != len(names):
            raise ValueError("event schemas are not told apart by their names")
        self.event = cls(items)
        self.by_name = {
            name: cls({**items, "oneOf": [alternative]})
            for name, alternative in zip(names, alternatives, strict=True)
        }
        each_event = {key: value for key, value in items.items() if key != "oneOf"}
        events_schema = {**schema["properties"]["events"], "items": each_event}
        self.outer = cls({**schema, "properties": {**schema["properties"], "events": events_schema}})

    def validate(self, result: Any) -> None:
        self.outer.validate(result)
        events = result.get("events") if isinstance(result, dict) else None
        for event in events or []:
            validator = self.by_name.get(event.get("event"))
            if validator is None or not validator.is_valid(event):
                # Rasa's own message for this event (which alternative failed and how).
                self.whole.validate(result)
                self.event.validate(event)


@functools.lru_cache(maxsize=1)
def _reply_validator() -> _ReplyValidator:
    return _ReplyValidator(RemoteAction.action_response_format_spec())


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    try:
        _reply_validator().validate(result)
    except ValidationError as error:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response "
            f"from the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise
    return True


_rasa_resolve_by_type = Event.resolve_by_type
_rasa_run_graph = DaskGraphRunner.run
_event_classes: dict[str, type[Event]] = {}


def _resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    event_class = _event_classes.get(type_name)
    if event_class is None:
        # A name not seen yet: look again, in Rasa's order (its first match wins), in
        # case an event class was imported since; unknown names go to Rasa's method.
        for cls in all_subclasses(Event):
            _event_classes.setdefault(cls.type_name, cls)
        event_class = _event_classes.get(type_name)
    return event_class or _rasa_resolve_by_type(type_name, default)


def _run_graph(
    self: DaskGraphRunner, inputs: dict[str, Any] | None = None, targets: list[str] | None = None
) -> dict[str, Any]:
    run_targets = targets if targets else self._graph_schema.target_names
    nodes = self._graph_schema.minimal_graph_schema(run_targets).nodes
    # As in Rasa's dask graph: an input is the pair (name, value), a node's result the pair
    # (node name, output), and a name that nothing provides is passed as the name itself.
    results: dict[str, Any] = {}
    for name, value in (inputs or {}).items():
        if isinstance(value, str) and value in nodes:
            raise GraphRunError(f"Input value '{value}' clashes with a node name.")
        results[name] = (name, value)

    def result(name: str) -> Any:
        if name not in results:
            if name not in nodes:
                return name
            needed = [result(dependency) for dependency in nodes[name].needs.values()]
            results[name] = self._instantiated_nodes[name](*needed)
        return results[name]

    try:
        return dict(result(target) for target in run_targets)
    except RuntimeError as error:
        raise GraphRunError("Error running runner.") from error


RemoteAction._validate_action_result = _validate_action_result
DaskGraphRunner.run = _run_graph
Event.resolve_by_type = staticmethod(_resolve_by_type)
