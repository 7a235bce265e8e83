"""Changes to Rasa 3.6 internals that its configuration cannot make, installed explicitly.

Every plugin Rasa loads from this package (the NLU components of ``bot.nlu``, the REST
channel, the tracker and lock stores, and bench/community_tokenizer.py) calls
``install()`` when Rasa imports it, so the server, ``rasa train`` and both pipelines of
the benchmark run patched, whichever plugin comes first. ``install()`` refuses a Rasa
version the patches were not tested with (TESTED_RASA_VERSIONS) with a clear error, does
nothing when ``BOT_RASA_PATCHES=off``, and patches only once. Each patch keeps Rasa's
results and errors and only removes repeated work; tests/bot/test_rasa_patches.py
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
- ``rasa.core.agent._update_model_from_server``: a worker that pulls a new model from the
  model server (endpoints.yml ``models:``, staff/models.py) loads it on the event loop, which
  answers nobody for those seconds (3 s for this model, more on a busy machine), and the
  first message after it pays for e5's start. The patched function pulls the same way, then
  builds the new model's processor in a thread, runs a few messages through it there, and
  only then swaps it in, all at once as ``Agent.load_model`` does, so the worker keeps
  answering with the old model meanwhile. A model that fails to load leaves the old one, as
  in Rasa.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from pathlib import Path
from typing import Any

import aiohttp
import rasa
import rasa.core.agent
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.processor import MessageProcessor
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.nlu.utils import is_url
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses
from rasa.utils.common import TempDirectoryPath, get_temp_dir_name
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)


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


# Run through a newly pulled model before it answers citizens: the first loads e5 and the
# tokenizer's dictionary, which would otherwise delay a citizen's message.
WARM_UP_MESSAGES = ("สวัสดีค่ะ", "สอบถามเรื่องเอกสารหน่อยค่ะ", "ทำพาสปอร์ตเสียเงินเท่าไหร่")


def _prepared_processor(agent: Agent, model_directory: str) -> MessageProcessor:
    """The new model's processor, as Agent.load_model makes it, run once (in a worker thread)."""
    processor = MessageProcessor(
        model_path=model_directory,
        tracker_store=agent.tracker_store,
        lock_store=agent.lock_store,
        action_endpoint=agent.action_endpoint,
        generator=agent.nlg,
        http_interpreter=agent.http_interpreter,
    )
    for text in WARM_UP_MESSAGES:
        try:
            asyncio.run(processor.parse_message(UserMessage(text, sender_id="model-warm-up")))
        except Exception:  # a failing warm-up must not stop the load; the model is used as is
            logger.exception("warming up the new model failed")
    return processor


def _set_processor(agent: Agent, processor: MessageProcessor, fingerprint: str) -> None:
    """Agent.load_model's steps after building the processor, on the event loop (no await between)."""
    agent.processor = processor
    agent.domain = processor.domain
    agent._set_fingerprint(fingerprint)
    agent.tracker_store.domain = agent.domain
    if isinstance(agent.nlg, TemplatedNaturalLanguageGenerator):
        agent.nlg.responses = agent.domain.responses if agent.domain else {}


async def _update_model_from_server(model_server: EndpointConfig, agent: Agent) -> None:
    """Rasa's function, with the model built in a thread while the worker keeps answering."""
    if not is_url(model_server.url):
        raise aiohttp.InvalidURL(model_server.url)
    with TempDirectoryPath(get_temp_dir_name()) as temporary_directory:
        try:
            new_fingerprint = await rasa.core.agent._pull_model_and_fingerprint(
                model_server, agent.fingerprint, temporary_directory
            )
            if not new_fingerprint:
                logger.debug(f"No new model found at URL {model_server.url}")
                return
            logger.info("Found new model %s; loading it while the current one answers", new_fingerprint)
            loop = asyncio.get_running_loop()
            processor = await loop.run_in_executor(
                None, _prepared_processor, agent, str(Path(temporary_directory))
            )
            _set_processor(agent, processor, new_fingerprint)
            logger.info("Now serving model %s", processor.model_metadata.model_id)
        except Exception:
            logger.exception("Failed to update model. The previous model will stay loaded instead.")


# The Rasa releases the patches were checked against (tests/bot/test_rasa_patches.py).
TESTED_RASA_VERSIONS = frozenset({"3.6.21"})
# BOT_RASA_PATCHES=off runs Rasa as it ships (slower, same results).
SWITCH = "BOT_RASA_PATCHES"
_OFF = {"off", "0", "false", "no"}

# (owner, attribute, patched value, Rasa's own value)
_PATCHES: list[tuple[Any, str, Any, Any]] = [
    (RemoteAction, "_validate_action_result", _validate_action_result,
     RemoteAction.__dict__["_validate_action_result"]),
    (DaskGraphRunner, "run", _run_graph, DaskGraphRunner.__dict__["run"]),
    (Event, "resolve_by_type", staticmethod(_resolve_by_type), Event.__dict__["resolve_by_type"]),
    (rasa.core.agent, "_update_model_from_server", _update_model_from_server,
     rasa.core.agent.__dict__["_update_model_from_server"]),
]


class UntestedRasaVersion(RuntimeError):
    """The installed Rasa is not one the patches were checked against."""


def enabled() -> bool:
    return os.environ.get(SWITCH, "on").strip().lower() not in _OFF


def installed() -> bool:
    return all(owner.__dict__[name] is patched for owner, name, patched, _ in _PATCHES)


def install() -> bool:
    """Put the patches in place (once); whether Rasa now runs patched.

    Raises UntestedRasaVersion on a Rasa release not in TESTED_RASA_VERSIONS: the patches
    replace private parts of Rasa, which change without notice between releases.
    """
    if not enabled():
        if not installed():
            logger.info("%s=off: Rasa runs without the project's patches", SWITCH)
        return installed()
    if installed():
        return True
    if rasa.__version__ not in TESTED_RASA_VERSIONS:
        raise UntestedRasaVersion(
            f"bot/patches.py replaces private parts of Rasa and was tested with Rasa "
            f"{', '.join(sorted(TESTED_RASA_VERSIONS))}, not {rasa.__version__}. Run "
            f"tests/bot/test_rasa_patches.py with this version and add it to TESTED_RASA_VERSIONS, "
            f"or set {SWITCH}=off to run Rasa unpatched."
        )
    for owner, name, patched, _ in _PATCHES:
        setattr(owner, name, patched)
    logger.debug("Rasa %s patched: %s", rasa.__version__, [f"{o.__name__}.{n}" for o, n, *_ in _PATCHES])
    return True


def uninstall() -> None:
    """Rasa's own methods back (for tests and comparisons)."""
    for owner, name, _, original in _PATCHES:
        setattr(owner, name, original)
