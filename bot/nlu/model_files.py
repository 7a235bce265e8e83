"""What the project's components keep in the trained model: JSON files in the directory Rasa's
model storage gives each component, and what a component does when the model has none."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

T = TypeVar("T")


def skops_io() -> Any:
    """skops.io, which keeps the classifiers. Importing it imports numpy.distutils, whose logging
    sets the root logger to WARNING: every INFO record of this project's components would be lost
    from then on (training's, and a server's once it loads a model)."""
    root = logging.getLogger()
    level = root.level
    import skops.io

    root.setLevel(level)
    return skops.io


def write_json(directory: Path, name: str, value: Any) -> None:
    (directory / name).write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")


def read_json(directory: Path, name: str) -> Any:
    return json.loads((directory / name).read_text(encoding="utf-8"))


def read_stored(model_storage: ModelStorage, resource: Resource, read: Callable[[Path], T]) -> T | None:
    """What `read` makes of the component's directory in the model; None when the model has
    nothing for it (the component learnt nothing, or a file is missing or unreadable)."""
    try:
        with model_storage.read_from(resource) as directory:
            return read(directory)
    except (ValueError, FileNotFoundError):
        return None


def stored_json(model_storage: ModelStorage, resource: Resource, name: str) -> Any:
    """The component's JSON file `name` in the model, read; None when there is none."""
    return read_stored(model_storage, resource, lambda directory: read_json(directory, name))
