"""The Rasa ThaiTokenizer component: training on lookup tables, persistence, tokenizing messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.thai_text import normalise
from bot.nlu.thai_tokenizer import NORMALISED_TEXT, ThaiTokenizer

LOOKUP_TABLES = [
    {"name": "service:social-security-39", "elements": ["ม.39", "มาตรา ๓๙", "ประกันสังคมมาตรา 39"]},
    {"name": "service:income-tax-filing", "elements": ["ภ.ง.ด.91", "ยื่นภาษี"]},
    {"name": "service:id-card", "elements": ["บัตรปชช.", "บัตรประชาชน"]},
    {"name": "service:elderly-allowance", "elements": ["เบี้ยคนแก่"]},
    # Not a service table: its words must not enter the dictionary.
    {"name": "vehicle", "elements": ["มอเตอไซค์"]},
]


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage.create(tmp_path)


@pytest.fixture
def context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), node_name="thai_tokenizer")


@pytest.fixture
def resource() -> Resource:
    return Resource("thai_tokenizer")


def _config(**overrides: object) -> dict:
    return {**ThaiTokenizer.get_default_config(), **overrides}


def _trained(storage: LocalModelStorage, resource: Resource, context: ExecutionContext) -> ThaiTokenizer:
    tokenizer = ThaiTokenizer.create(_config(), storage, resource, context)
    tokenizer.train(TrainingData(lookup_tables=LOOKUP_TABLES))
    return tokenizer


def _tokenize(tokenizer: ThaiTokenizer, text: str) -> Message:
    message = Message(data={TEXT: text})
    tokenizer.process([message])
    return message


def _check_offsets(message: Message) -> None:
    """Every token is the slice of the normalised text its offsets say, in order, without overlap."""
    normalised = message.get(NORMALISED_TEXT)
    end = 0
    for token in message.get(TOKENS_NAMES[TEXT]):
        assert token.text.strip() == token.text != ""
        assert normalised[token.start : token.end] == token.text
        assert token.start >= end
        end = token.end


def test_supports_only_thai() -> None:
    assert ThaiTokenizer.supported_languages() == ["th"]


def test_train_learns_the_service_lookup_tables_only(
    storage: LocalModelStorage, resource: Resource, context: ExecutionContext
) -> None:
    tokenizer = _trained(storage, resource, context)
    assert {"ม.39", "มาตรา 39", "ภ.ง.ด.91", "บัตรปชช.", "เบี้ยคนแก่"} <= tokenizer.dictionary
    assert "มาตรา ๓๙" not in tokenizer.dictionary  # words are stored normalised
    assert "มอเตอไซค์" not in tokenizer.dictionary


def test_persist_and_load_round_trip(
    storage: LocalModelStorage, resource: Resource, context: ExecutionContext
) -> None:
    trained = _trained(storage, resource, context)
    loaded = ThaiTokenizer.load(_config(), storage, resource, context)
    assert loaded.dictionary == trained.dictionary
    text = "ส่งเงิน ม.๓๙ กับยื่น ภ.ง.ด.91 ยังไงคะ"
    assert [t.text for t in _tokenize(loaded, text).get(TOKENS_NAMES[TEXT])] == [
        t.text for t in _tokenize(trained, text).get(TOKENS_NAMES[TEXT])
    ]


def test_load_without_a_persisted_dictionary_gives_an_empty_one(
    storage: LocalModelStorage, context: ExecutionContext
) -> None:
    loaded = ThaiTokenizer.load(_config(), storage, Resource("never_trained"), context)
    assert loaded.dictionary == frozenset()
    assert [t.text for t in _tokenize(loaded, "ทำใบขับขี่").get(TOKENS_NAMES[TEXT])]


@pytest.mark.parametrize(
    ("text", "whole_word"),
    [
        ("ส่งเงินม.39เดือนละเท่าไหร่", "ม.39"),
        ("ยื่นภ.ง.ด.๙๑ออนไลน์ได้ไหม", "ภ.ง.ด.91"),
        ("ทำบัตรปชช.ใหม่กี่บาท", "บัตรปชช."),
        ("เบี้ยคนแก่เข้าวันไหนคะ", "เบี้ยคนแก่"),
    ],
)
def test_tokenizes_a_message_with_project_words_whole(
    text: str, whole_word: str, storage: LocalModelStorage, resource: Resource, context: ExecutionContext
) -> None:
    _trained(storage, resource, context)
    message = _tokenize(ThaiTokenizer.load(_config(), storage, resource, context), text)
    assert whole_word in [t.text for t in message.get(TOKENS_NAMES[TEXT])]
    _check_offsets(message)


@pytest.mark.parametrize(
    "text",
    [
        "ดีจ้าาาา  อยากทำ\u200bพาสปอร์ต   เล่ม ๑๐ ปี",
        "  เเม่อายุ ๘๒ ค่่ะ  ",
        "ID Card   หายยยย ทำใหม่ยังไง",
        "ภงด.91 กับ ภ.ง.ด.91 ต่างกันไหม",
    ],
)
def test_offsets_are_consistent_with_the_normalised_text(
    text: str, storage: LocalModelStorage, resource: Resource, context: ExecutionContext
) -> None:
    message = _tokenize(_trained(storage, resource, context), text)
    assert message.get(NORMALISED_TEXT) == normalise(text)
    _check_offsets(message)
    # The tokens cover the whole normalised text apart from the spaces between them.
    joined = "".join(t.text for t in message.get(TOKENS_NAMES[TEXT]))
    assert joined == message.get(NORMALISED_TEXT).replace(" ", "")


def test_process_training_data_tokenizes_examples(
    storage: LocalModelStorage, resource: Resource, context: ExecutionContext
) -> None:
    tokenizer = _trained(storage, resource, context)
    example = Message(data={TEXT: "จ่ายม.39ช้าโดนปรับไหม", INTENT: "ask_service"})
    tokenizer.process_training_data(TrainingData(training_examples=[example]))
    assert "ม.39" in [t.text for t in example.get(TOKENS_NAMES[TEXT])]
    assert [t.text for t in example.get(TOKENS_NAMES[INTENT])] == ["ask_service"]
