"""The reply contract (contract/replies.py) is the one place its names live, and the rest agrees with it.

Standard library, PyYAML and pytest only: both environments run it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from contract import replies

REPO_ROOT = Path(__file__).resolve().parents[2]
# Names of the contract that no other module may define for itself.
CONTRACT_NAMES = (
    "KINDS", "TOPIC_LABELS", "TOPIC_LABELS_TH", "TOPICS", "ASK_INTENT", "NONE", "PREVIOUS", "FOLLOW_UPS",
    "GOVERNMENT_HOTLINE", "HOTLINE", "GOVERNMENT_WEBSITE", "MAX_FACTS", "HANDOFF_INTENT", "FEEDBACK_INTENT",
    "FEEDBACK_ENTITY", "HUMAN_PAYLOAD", "HUMAN_BUTTON_TITLE", "HUMAN_OPTION",
)  # fmt: skip
DEFINITION = re.compile(rf"^({'|'.join(CONTRACT_NAMES)})\s*(:[^=]*)?=", re.MULTILINE)
SOURCE_DIRS = ("actions", "bot", "catalog", "gateway", "privacy", "bench", "scripts", "tests")


def python_files_in(dirs: tuple[str, ...]) -> list[Path]:
    return sorted(p for d in dirs for p in (REPO_ROOT / d).rglob("*.py"))


def python_files() -> list[Path]:
    return python_files_in(SOURCE_DIRS)


def test_each_contract_name_is_defined_once() -> None:
    defined_elsewhere = {
        f"{path.relative_to(REPO_ROOT)}: {match.group(1)}"
        for path in python_files()
        for match in DEFINITION.finditer(path.read_text(encoding="utf-8"))
    }
    assert not defined_elsewhere, "import these from contract.replies instead"


# Where the hotline and the website must not be written out: the code, the
# dialogue and the web page take it from contract.replies. Not scanned: contract/ itself, the
# tests (they check what citizens read), docs/ (prose), data/nlu/ (citizens' own words, "โทร1111")
# and the catalog's seed records (agencies' data: an agency whose own line is 1111 says so).
HOTLINE_LITERAL = re.compile(
    rf"(?<![0-9]){re.escape(replies.GOVERNMENT_HOTLINE)}(?![0-9])|{re.escape(replies.GOVERNMENT_WEBSITE)}"
)
HOTLINE_FREE_DIRS = tuple(d for d in SOURCE_DIRS if d != "tests")
HOTLINE_FREE_FILES = ("domain.yml", "data/rules.yml", "config.yml", "endpoints.yml", "credentials.yml")
WEB_FILE_SUFFIXES = (".html", ".js", ".css")


def hotline_free_files() -> list[Path]:
    web = [p for p in (REPO_ROOT / "gateway").rglob("*") if p.suffix in WEB_FILE_SUFFIXES]
    return [*python_files_in(HOTLINE_FREE_DIRS), *web,
            *(p for name in HOTLINE_FREE_FILES if (p := REPO_ROOT / name).exists())]  # fmt: skip


def test_the_hotline_is_written_only_in_the_contract() -> None:
    files = hotline_free_files()
    assert REPO_ROOT / "domain.yml" in files and REPO_ROOT / "gateway/web/static/chat.js" in files
    written_out = [
        f"{path.relative_to(REPO_ROOT)}:{number}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if HOTLINE_LITERAL.search(line)
    ]
    assert not written_out, "take GOVERNMENT_HOTLINE / GOVERNMENT_WEBSITE from contract.replies"


def test_no_module_cites_the_spec_outside_the_repository() -> None:
    citing = [
        str(path.relative_to(REPO_ROOT))
        for path in [*python_files(), *REPO_ROOT.glob("*.md"), *(REPO_ROOT / "docs").glob("*.md"),
                     REPO_ROOT / "gateway" / "README.md"]
        if path != Path(__file__).resolve() and "spec/replies.md" in path.read_text(encoding="utf-8")
    ]  # fmt: skip
    assert not citing, "cite docs/replies.md"


def test_every_topic_has_a_thai_label_and_the_default_is_a_topic() -> None:
    assert set(replies.TOPICS) == set(replies.TOPIC_LABELS)
    assert all(re.search("[\u0e00-\u0e7f]", label) for label in replies.TOPIC_LABELS.values())
    assert len(set(replies.TOPIC_LABELS.values())) == len(replies.TOPIC_LABELS)
    assert replies.DEFAULT_TOPIC in replies.TOPICS
    assert replies.topic_label("fee") == replies.TOPIC_LABELS["fee"]
    assert replies.topic_label("no-such-topic") == "no-such-topic"


def test_kinds_and_fields() -> None:
    assert replies.WITH_AGENT in replies.KINDS and replies.is_kind(replies.ANSWER)
    assert not replies.is_kind("reply") and not replies.is_kind(None)
    assert set(replies.SMALL_TALK) <= replies.KINDS and replies.UNANSWERED_KINDS <= replies.KINDS
    assert replies.FOLLOW_UPS == (replies.NONE, replies.PREVIOUS)
    assert set(replies.FEEDBACK_VALUES) == {replies.FEEDBACK_HELPFUL, replies.FEEDBACK_UNHELPFUL}


def test_the_payloads_of_the_offer_and_the_rating() -> None:
    assert f"/{replies.HANDOFF_INTENT}" == replies.HUMAN_PAYLOAD
    assert replies.HUMAN_OPTION == replies.HANDOFF
    assert replies.feedback_payload(replies.FEEDBACK_UNHELPFUL) == '/feedback{"value": "unhelpful"}'


def test_the_document_names_every_kind_topic_and_label() -> None:
    document = (REPO_ROOT / "docs" / "replies.md").read_text(encoding="utf-8")
    for kind in replies.KINDS:
        assert f"`{kind}`" in document, kind
    for topic, label in replies.TOPIC_LABELS.items():
        assert re.search(rf"`{topic}`.*{label}", document), topic
    for field in (replies.FEEDBACK, replies.AGENT, replies.CARD, replies.OPTIONS, replies.FEEDBACK_ENTITY,
                  replies.FAQ_ID):  # fmt: skip
        assert f"`{field}`" in document, field
    for payload in (replies.HUMAN_PAYLOAD, replies.feedback_payload(replies.FEEDBACK_HELPFUL),
                    replies.feedback_payload(replies.FEEDBACK_UNHELPFUL)):  # fmt: skip
        assert f"`{payload}`" in document, payload
    assert replies.HUMAN_BUTTON_TITLE in document
    assert replies.GOVERNMENT_HOTLINE in document


def test_the_domain_speaks_the_contract() -> None:
    domain = yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert {replies.ASK_INTENT, replies.HANDOFF_INTENT, replies.FEEDBACK_INTENT} <= set(domain["intents"])
    assert replies.FEEDBACK_ENTITY in domain["entities"]
    kinds = {
        response["custom"]["kind"]
        for variants in domain.get("responses", {}).values()
        for response in variants
        if isinstance(response.get("custom"), dict) and "kind" in response["custom"]
    }
    assert kinds and kinds <= replies.KINDS


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "data" / "nlu").glob("*.yml")), ids=lambda p: p.name)
def test_training_data_labels_only_contract_topics(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    topics = {
        (example.get("metadata") or {}).get("topic")
        for block in data.get("nlu", [])
        if isinstance(block.get("examples"), list)
        for example in block["examples"]
        if isinstance(example, dict)
    } - {None}
    assert topics <= set(replies.TOPICS)
