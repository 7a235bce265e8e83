"""A Rasa tokenizer for Thai: pythainlp normalisation and newmm segmentation.

Rasa's WhitespaceTokenizer refuses Thai, which is written without spaces between
words. This tokenizer segments with newmm and a project dictionary learnt from the
training data's lookup tables (the catalog's service names and synonyms, see
``catalog/lexicon.py``) so that names such as บัตรปชช. or ภ.ง.ด.91 stay whole.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import thai_text
from bot.nlu.model_files import stored_json, write_json

NORMALISED_TEXT = "text_normalised"
_DICTIONARY_FILE = "dictionary.json"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class ThaiTokenizer(Tokenizer):
    """Segments normalised Thai text into words; the words carry the normalised form."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            # Lookup tables whose name starts with this prefix feed the dictionary.
            "lookup_prefix": "service:",
            "engine": "newmm",
        }

    @staticmethod
    def supported_languages() -> list[str] | None:
        return ["th"]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        dictionary: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(config)
        self._model_storage = model_storage
        self._resource = resource
        self.dictionary = dictionary

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ThaiTokenizer:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        words = [
            word
            for table in training_data.lookup_tables
            if table["name"].startswith(self._config["lookup_prefix"])
            for word in table["elements"]
        ]
        self.dictionary = thai_text.make_dictionary(words)
        with self._model_storage.write_to(self._resource) as directory:
            write_json(directory, _DICTIONARY_FILE, sorted(self.dictionary))
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> ThaiTokenizer:
        words = stored_json(model_storage, resource, _DICTIONARY_FILE)
        return cls(config, model_storage, resource, frozenset(words or []))

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        normalised = thai_text.normalise(message.get(attribute) or "")
        if attribute == TEXT:
            message.set(NORMALISED_TEXT, normalised)
        words = thai_text.tokenize(normalised, self.dictionary, self._config["engine"]) or [normalised]
        tokens, offset = [], 0
        for word in words:
            start = normalised.find(word, offset)
            start = offset if start < 0 else start
            offset = start + len(word)
            tokens.append(Token(word, start, offset))
        return self._apply_token_pattern(tokens)
