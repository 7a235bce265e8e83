"""The plain community Thai tokenizer: pythainlp newmm with its own dictionary, nothing else.

Rasa ships no Thai tokenizer, so the community pipeline (bench/community.yml) needs this
much. It deliberately has none of the project's additions (bot/nlu/thai_tokenizer.py):
no project dictionary and no normalisation, so the comparison shows what they are worth.
"""

from __future__ import annotations

import os
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.patches import install

# Nothing may download at run time.
os.environ.setdefault("PYTHAINLP_OFFLINE", "1")

from pythainlp.tokenize import word_tokenize

# The community pipeline names none of bot.nlu's components: patched all the same, so the
# benchmark compares the two pipelines on the same Rasa.
install()


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class CommunityThaiTokenizer(Tokenizer):
    """Segments the raw text with newmm; tokens point into the text as it was typed."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            "engine": "newmm",
        }

    @staticmethod
    def supported_languages() -> list[str] | None:
        return ["th"]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CommunityThaiTokenizer:
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute) or ""
        words = [
            w for w in word_tokenize(text, engine=self._config["engine"], keep_whitespace=False) if w.strip()
        ]
        tokens, offset = [], 0
        for word in words or [text]:
            start = text.find(word, offset)
            start = offset if start < 0 else start
            offset = start + len(word)
            tokens.append(Token(word, start, offset))
        return self._apply_token_pattern(tokens)
