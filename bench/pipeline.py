"""A Rasa NLU pipeline run in process, component by component, on in-memory training data.

`rasa train` builds a whole model archive; cross-validation needs the components alone,
trained on one fold and applied to another, with the time each one takes. The
components are the ones a config file names, created and trained the way Rasa's graph
does it (default config overlaid with the file's settings).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rasa.engine.graph import ExecutionContext, GraphComponent, GraphSchema
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

# Components that do not decide a label: entity extraction and the fallback intent.
NOT_LABELLING = {"RegexEntityExtractor", "EntitySynonymMapper", "FallbackClassifier"}


def pipeline_steps(config_file: Path) -> list[dict[str, Any]]:
    """The pipeline of a Rasa config file, without the components that decide no label."""
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    return [dict(step) for step in config["pipeline"] if step["name"].split(".")[-1] not in NOT_LABELLING]


@dataclass
class Step:
    name: str
    component: GraphComponent
    trainable: bool
    train_seconds: float = 0.0
    process_seconds: float = 0.0


@dataclass
class Pipeline:
    steps: list[Step] = field(default_factory=list)

    @classmethod
    def build(cls, steps: list[dict[str, Any]], storage_dir: Path, tag: str) -> Pipeline:
        storage_dir.mkdir(parents=True, exist_ok=True)
        storage = LocalModelStorage(storage_dir)
        built = []
        for i, step in enumerate(steps):
            user_config = {k: v for k, v in step.items() if k != "name"}
            registered = DefaultV1Recipe._from_registry(step["name"])
            clazz = registered.clazz
            config = {**clazz.get_default_config(), **user_config}
            node = f"{tag}_{i}_{clazz.__name__}"
            context = ExecutionContext(GraphSchema({}), node_name=node)
            component = clazz.create(config, storage, Resource(node), context)
            built.append(Step(clazz.__name__, component, registered.is_trainable))
        return cls(built)

    def fit(self, training_data: TrainingData) -> None:
        """Train each component in turn and let it add its output to the training data."""
        for step in self.steps:
            start = time.perf_counter()
            if step.trainable and hasattr(step.component, "train"):
                step.component.train(training_data)
            if hasattr(step.component, "process_training_data"):
                step.component.process_training_data(training_data)
            step.train_seconds += time.perf_counter() - start

    def process(self, messages: list[Message]) -> list[Message]:
        for step in self.steps:
            start = time.perf_counter()
            messages = step.component.process(messages)
            step.process_seconds += time.perf_counter() - start
        return messages

    @property
    def train_seconds(self) -> float:
        return sum(s.train_seconds for s in self.steps)

    def find(self, name: str) -> GraphComponent | None:
        return next((s.component for s in self.steps if s.name == name), None)


def split_at(steps: list[dict[str, Any]], name: str) -> tuple[list[dict], list[dict], list[dict]]:
    """The steps before the component `name`, the component itself (if any), and the steps after."""
    short = name.split(".")[-1]
    for i, step in enumerate(steps):
        if step["name"].split(".")[-1] == short:
            return steps[:i], [step], steps[i + 1 :]
    return steps, [], []
