"""Changes to Rasa 3.6 internals that its configuration cannot make.

Imported by ``bot.nlu`` (the Rasa server and ``rasa train`` load our components, so the
patch is in place before the first message); harmless anywhere else.

- ``RemoteAction._validate_action_result``: Rasa checks every action server reply with
  ``jsonschema.validate``, which first re-validates the (constant) reply schema itself
  against the JSON Schema meta-schema. That check was a tenth of the CPU time of a
  turn. The patched method builds the validator once and raises the same error.
"""

from __future__ import annotations

import functools
from typing import Any

from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


@functools.lru_cache(maxsize=1)
def _reply_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator = validator_for(schema)
    validator.check_schema(schema)
    return validator(schema)


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


RemoteAction._validate_action_result = _validate_action_result
