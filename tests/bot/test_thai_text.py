"""bot.nlu.thai_text: the canonical form of a citizen's message and its word segmentation."""

from __future__ import annotations

import pytest

from bot.nlu.thai_text import make_dictionary, normalise, tokenize

# The project's own words, as the lexicon's lookup tables give them to the tokenizer.
PROJECT_WORDS = ["บัตรปชช.", "ม.39", "ภ.ง.ด.91", "ใบขับขี่", "เบี้ยคนแก่", "พาสปอร์ต"]


@pytest.fixture(scope="module")
def dictionary() -> frozenset[str]:
    return make_dictionary(PROJECT_WORDS)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # zero-width characters that copy-paste from web pages and LINE leave behind
        ("ทำ\u200bพาส\u200dปอร์ต", "ทำพาสปอร์ต"),
        ("เบี้ยยังชีพ\ufeff", "เบี้ยยังชีพ"),
        ("บัตร\u00adประชาชน\u2060", "บัตรประชาชน"),
        ("ใบ\u200cขับขี่", "ใบขับขี่"),
        # Thai digits become Arabic ones
        ("แม่อายุ ๗๕ ปี", "แม่อายุ 75 ปี"),
        ("ภ.ง.ด.๙๑", "ภ.ง.ด.91"),
        ("ม.๓๙", "ม.39"),
        # stretched letters, Thai and Latin
        ("ดีจ้าาาา", "ดีจ้า"),
        ("ขอบคุณมากกกก", "ขอบคุณมาก"),
        ("ได้ม๊ากกก", "ได้ม๊าก"),
        ("helloooo", "hello"),
        # pythainlp's normalize: doubled tone marks and vowels, เเ written as two เ
        ("ค่่ะ", "ค่ะ"),
        ("น้ำำ", "น้ำ"),
        ("เเม่", "แม่"),
        # English is lower-cased; runs of spaces, tabs and newlines collapse and the ends are trimmed
        ("PASSPORT", "passport"),
        ("  ทำ   Passport\tกี่บาท \n", "ทำ passport กี่บาท"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_normalise_keeps_doubled_letters_that_are_spelling() -> None:
    # Two identical consonants are ordinary Thai spelling; only three or more are stretching.
    assert normalise("สัปปะรด") == "สัปปะรด"
    assert normalise("good") == "good"


def test_normalise_is_idempotent() -> None:
    for text in ["ดีจ้าาาา ทำ PASSPORT ๑๐ ปี", "เเม่อายุ ๗๕\u200b ค่่ะ", "ภ.ง.ด.๙๑  ยื่นยังไง"]:
        once = normalise(text)
        assert normalise(once) == once


def test_make_dictionary_normalises_and_drops_blanks() -> None:
    words = make_dictionary(["ม.๓๙", "  ", "", "PASSPORT", "ใบขับขี่"])
    assert words == frozenset({"ม.39", "passport", "ใบขับขี่"})


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("ทำบัตรปชช.ใหม่กี่บาท", "บัตรปชช."),
        ("ส่งเงินม.39เดือนละเท่าไหร่", "ม.39"),
        ("ยื่นภ.ง.ด.91ออนไลน์ได้ไหม", "ภ.ง.ด.91"),
        ("ทำใบขับขี่ใหม่ต้องใช้อะไร", "ใบขับขี่"),
        ("เบี้ยคนแก่เข้าวันไหน", "เบี้ยคนแก่"),
    ],
)
def test_tokenize_keeps_dictionary_words_whole(text: str, word: str, dictionary: frozenset[str]) -> None:
    tokens = tokenize(normalise(text), dictionary)
    assert word in tokens
    assert "".join(tokens) == normalise(text)


def test_without_the_project_dictionary_abbreviations_are_split() -> None:
    # Why the tokenizer needs the lexicon: newmm alone breaks these names apart.
    assert "ม.39" not in tokenize("ส่งเงินม.39เดือนละเท่าไหร่")
    assert "ภ.ง.ด.91" not in tokenize("ยื่นภ.ง.ด.91ออนไลน์")


@pytest.mark.parametrize(
    "text",
    ["ทำ พาสปอร์ต  กี่บาท", " เบี้ยคนแก่ \t เข้า วันไหน ", "ใบขับขี่\nหมดอายุ", "passport fee please"],
)
def test_tokenize_emits_no_whitespace_tokens(text: str, dictionary: frozenset[str]) -> None:
    tokens = tokenize(text, dictionary)
    assert tokens
    assert all(token.strip() == token and token for token in tokens)


def test_tokenize_empty_text(dictionary: frozenset[str]) -> None:
    assert tokenize("", dictionary) == []
    assert tokenize("   ", dictionary) == []


def test_tokenize_segments_a_whole_question(dictionary: frozenset[str]) -> None:
    assert tokenize(normalise("ทำพาสปอร์ต กี่บาทคะ"), dictionary) == ["ทำ", "พาสปอร์ต", "กี่", "บาท", "คะ"]
