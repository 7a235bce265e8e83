"""Service names: found in messages (ServiceLexicon) and written to the NLU data (the lexicon tool)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.service_lexicon import ServiceLexicon, compact
from catalog.lexicon import generic_parts, names_of, records_from_seed, render

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED_DIR = REPO_ROOT / "catalog" / "seed"
LEXICON_FILE = REPO_ROOT / "data" / "nlu" / "lexicon.yml"

NAMES = {
    "driving-licence-new": ["ใบขับขี่", "ทำใบขับขี่ใหม่", "ใบขับขี่มอไซค์"],
    "driving-licence-renewal": ["ใบขับขี่", "ต่อใบขับขี่", "ใบขับขี่หมดอายุ"],
    "passport": ["หนังสือเดินทาง", "พาสปอร์ต", "ทำพาสปอร์ต"],
    "id-card": ["บัตรประชาชน", "บัตรปชช."],
    "income-tax-filing": ["ภ.ง.ด.91", "ยื่นภาษี"],
    "social-security-39": ["ม.39", "ประกันสังคม"],
    "social-security-40": ["ม.40", "ประกันสังคม"],
    "elderly-allowance": ["เบี้ยคนแก่", "เบี้ยยังชีพผู้สูงอายุ"],
    "student-loan": ["กยศ.", "กรอ."],
    "death-registration": ["แจ้งตาย", "แจ้งการตาย"],
    "marriage-registration": ["จดทะเบียนสมรส", "แต่งงาน"],
}


@pytest.fixture(scope="module")
def lexicon() -> ServiceLexicon:
    return ServiceLexicon(NAMES)


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return records_from_seed(SEED_DIR)


def test_a_name_shared_by_two_services_names_both(lexicon: ServiceLexicon) -> None:
    assert lexicon.mentions("ใบขับขี่ ทำที่ไหนคะ") == [
        {"text": "ใบขับขี่", "services": ["driving-licence-new", "driving-licence-renewal"]}
    ]
    row = dict(zip(lexicon.services, lexicon.vector("ใบขับขี่ ทำที่ไหนคะ"), strict=True))
    assert row["driving-licence-new"] == row["driving-licence-renewal"] == 0.5
    assert row["passport"] == 0.0


def test_the_longest_match_wins(lexicon: ServiceLexicon) -> None:
    assert lexicon.mentions("ใบขับขี่หมดอายุต่อยังไง") == [
        {"text": "ใบขับขี่หมดอายุ", "services": ["driving-licence-renewal"]}
    ]
    assert lexicon.mentions("อยากทำใบขับขี่มอไซค์") == [
        {"text": "ใบขับขี่มอไซค์", "services": ["driving-licence-new"]}
    ]
    row = dict(zip(lexicon.services, lexicon.vector("ใบขับขี่หมดอายุต่อยังไง"), strict=True))
    assert row["driving-licence-renewal"] == 1.0
    assert row["driving-licence-new"] == 0.0


def test_mentions_come_in_reading_order(lexicon: ServiceLexicon) -> None:
    found = lexicon.mentions("ทำพาสปอร์ตต้องใช้บัตรปชช.ไหม แล้วเบี้ยคนแก่ล่ะ")
    assert [m["services"] for m in found] == [["passport"], ["id-card"], ["elderly-allowance"]]
    found = lexicon.mentions("เบี้ยคนแก่กับพาสปอร์ต")
    assert [m["services"] for m in found] == [["elderly-allowance"], ["passport"]]


@pytest.mark.parametrize("text", ["ยื่นภ.ง.ด.91", "ยื่น ภงด.91", "ยื่นภงด 91", "ยื่นภ.ง.ด.๙๑", "ภ-ง-ด 91 ถึงวันไหน"])
def test_abbreviations_match_however_they_are_written(text: str, lexicon: ServiceLexicon) -> None:
    assert [m["services"] for m in lexicon.mentions(text)] == [["income-tax-filing"]]


def test_sso_sections_are_told_apart(lexicon: ServiceLexicon) -> None:
    assert [m["services"] for m in lexicon.mentions("ม.39 กับ ม.40 ต่างกันยังไง")] == [
        ["social-security-39"],
        ["social-security-40"],
    ]
    assert lexicon.mentions("ประกันสังคมส่งเท่าไหร่")[0]["services"] == [
        "social-security-39",
        "social-security-40",
    ]


@pytest.mark.parametrize("text", ["ต้องกรอกแบบฟอร์มอะไรบ้าง", "สอบไม่ผ่านต้องสอบอีกรอบไหม"])
def test_a_short_name_inside_a_longer_word_is_not_a_mention(text: str, lexicon: ServiceLexicon) -> None:
    assert lexicon.mentions(text) == []


@pytest.mark.parametrize("text", ["ขอกยศได้ไหม", "กู้ กรอ. ได้มั้ย"])
def test_a_short_name_glued_to_thai_words_is_still_found(text: str, lexicon: ServiceLexicon) -> None:
    assert [m["services"] for m in lexicon.mentions(text)] == [["student-loan"]]


def test_a_near_name_that_cuts_a_word_in_half_is_not_a_mention(lexicon: ServiceLexicon) -> None:
    # แจ้งภายใน is one edit from แจ้งตาย, but ภายใน is a word of its own.
    assert lexicon.mentions("ต้องแจ้งภายในกี่วันครับ") == []
    assert [m["services"] for m in lexicon.mentions("แจ้งตายภายในกี่วัน")] == [["death-registration"]]


def test_a_word_spelt_right_is_not_a_near_name(lexicon: ServiceLexicon) -> None:
    # แรงงาน is one edit from แต่งงาน with tone marks ignored, but it is a word of its own.
    assert lexicon.mentions("แรงงานพม่าเปลี่ยนนายจ้างได้ไหม") == []
    assert [m["services"] for m in lexicon.mentions("แต่งงานต้องจดที่ไหน")] == [["marriage-registration"]]
    # A typo that is no word is still a name typed wrong.
    assert [m["services"] for m in lexicon.mentions("พาสปอร์ดหายทำไง")] == [["passport"]]


def test_no_mention_in_small_talk(lexicon: ServiceLexicon) -> None:
    assert lexicon.mentions("สวัสดีค่ะ") == []
    assert lexicon.mentions("") == []
    assert lexicon.vector("ขอบคุณมากค่ะ") == [0.0] * len(NAMES)


def test_compact_removes_separators_and_normalises() -> None:
    assert compact("ภ.ง.ด. ๙๑") == "ภงด91"
    assert compact("Thai ID-card (บัตร ปชช.)") == "thaiidcardบัตรปชช"


def test_from_training_data_reads_only_service_tables() -> None:
    data = TrainingData(
        lookup_tables=[
            {"name": "service:passport", "elements": ["พาสปอร์ต"]},
            {"name": "vehicle", "elements": ["มอไซค์"]},
        ]
    )
    lexicon = ServiceLexicon.from_training_data(data)
    assert lexicon.services == ["passport"]
    assert lexicon.mentions("มอไซค์") == []


def test_lexicons_of_the_same_names_share_a_cache_but_a_served_one_keeps_its_bound() -> None:
    names = {"passport": ["พาสปอร์ต"], "id-card": ["บัตรประชาชน"]}
    training = ServiceLexicon(names, cache_size=None)
    assert ServiceLexicon(names, cache_size=None).mentions is training.mentions
    served, also_served = ServiceLexicon(names), ServiceLexicon(names)
    assert served.mentions is also_served.mentions
    assert served.mentions.cache_info().maxsize == 64
    assert training.mentions.cache_info().maxsize is None


def test_the_committed_lexicon_is_in_sync_with_the_catalog_seeds(records: list[dict]) -> None:
    assert records, f"no seed records in {SEED_DIR}"
    assert render(records) == LEXICON_FILE.read_text(encoding="utf-8"), (
        "data/nlu/lexicon.yml is out of date: run `make lexicon` and retrain"
    )


def test_render_does_not_depend_on_record_order(records: list[dict]) -> None:
    assert render(reversed(records)) == render(records)


def test_names_of_splits_a_name_with_its_popular_form() -> None:
    record = {"name": {"th": "หนังสือเดินทาง (พาสปอร์ต)", "en": "Passport"}, "synonyms": ["พาสปอร์ต", "PASSPORT"]}
    assert names_of(record) == ["หนังสือเดินทาง (พาสปอร์ต)", "หนังสือเดินทาง", "พาสปอร์ต", "Passport"]


def test_a_part_of_a_name_that_other_services_names_contain_names_none_of_them() -> None:
    food = {"id": "food", "name": {"th": "ใบอนุญาต/หนังสือรับรองการแจ้ง", "en": "Food licence"}, "synonyms": []}
    liquor = {"id": "liquor", "name": {"th": "ใบอนุญาตขายสุรา", "en": "Liquor"}, "synonyms": ["ใบอนุญาต"]}
    assert generic_parts([food, liquor]) == {"food": {"ใบอนุญาต"}, "liquor": set()}  # a synonym stays
    lookup = render([food, liquor]).split("- intent:")[0]
    assert "หนังสือรับรองการแจ้ง" in lookup and "\n    - ใบอนุญาต\n" not in lookup


def test_names_of_splits_slashes_and_keeps_only_parts_that_name_something() -> None:
    record = {
        "name": {"th": "ยื่นภาษี ภ.ง.ด.90/91", "en": "Personal income tax (PIT) - online filing"},
        "synonyms": ["  ยื่น   ภาษี  ", "ยื่นภาษี ภ.ง.ด.90/91", "PERSONAL INCOME TAX"],
    }
    assert names_of(record) == [
        "ยื่นภาษี ภ.ง.ด.90/91",
        "ยื่นภาษี ภ.ง.ด.90",  # "91" alone, without letters, names nothing
        "Personal income tax (PIT) - online filing",
        "Personal income tax",  # an English part needs two words: "PIT" is left out
        "online filing",
        "ยื่น ภาษี",
    ]


def test_every_seed_yields_names_the_lexicon_finds(records: list[dict]) -> None:
    lexicon = ServiceLexicon({r["id"]: names_of(r) for r in records})
    for record in records:
        found = lexicon.mentions(record["name"]["th"])
        assert any(record["id"] in m["services"] for m in found), record["id"]


# -- names typed wrong: found tolerantly -----------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "service"),
    [
        ("หนังสือเดินทงหมดอายุทำไง", "passport"),  # a dropped vowel
        ("ขอต่อบัตรประชาขนค่ะ", "id-card"),  # a neighbouring key
        ("เบี้ยยังชีพผู้สูงอายูได้กี่บาท", "elderly-allowance"),  # a wrong vowel
        ("เบี้ยยังชีพผูสูงอายุ", "elderly-allowance"),  # a missing tone mark
    ],
)
def test_a_long_name_with_one_typo_is_found_near(lexicon: ServiceLexicon, text: str, service: str) -> None:
    found = lexicon.mentions(text)
    assert [m["services"] for m in found] == [[service]]
    assert found[0].get("near") is True


def test_a_typo_that_moves_the_segmenters_edge_still_finds_the_name(records: list[dict]) -> None:
    lexicon = ServiceLexicon({r["id"]: names_of(r) for r in records})
    # The extra ร makes no word: the segmenter glues the name's last letters to it (ขีรถ|ยนตร์).
    found = lexicon.mentions("ต่อใบขับขีรถยนตร์ได้ที่ไหน")
    assert [m["services"] for m in found] == [["driving-licence-renewal"]]
    # A foreign word glued to a name is not a typo of its first letter.
    found = lexicon.mentions("renewใบขับขี่รถยนต์")
    assert found and not any(m.get("near") for m in found)


def test_a_wrong_last_letter_making_a_word_with_the_next_still_finds_the_name(records: list[dict]) -> None:
    lexicon = ServiceLexicon({r["id"]: names_of(r) for r in records})
    # เดินทาน: the alignment leaves the wrong น out, and ends inside the word ทาน.
    found = lexicon.mentions("ทำหนังสือเดินทานต้องใช้อะไร")
    assert [m["services"] for m in found] == [["passport"]]
    assert found[0]["text"].endswith("ทาน")
    # The letter taken back is the one edit allowed: ต|ามทะเบียนบ้าน is two from ย้ายทะเบียนบ้าน.
    assert lexicon.mentions("ทำเขตไหนก็ได้หรือต้องเขตตามทะเบียนบ้าน") == []


def test_an_exact_name_wins_over_a_near_one_at_the_same_place(lexicon: ServiceLexicon) -> None:
    # ยื่นภาษี is income-tax-filing exactly; no near name may claim the same letters.
    assert [m["services"] for m in lexicon.mentions("ยื่นภาษีออนไลน์ได้ไหม")] == [["income-tax-filing"]]


def test_short_names_and_unrelated_words_are_never_matched_tolerantly(lexicon: ServiceLexicon) -> None:
    assert lexicon.mentions("ม.38 คืออะไร") == []  # one edit from ม.39, but short
    assert lexicon.mentions("วันนี้อากาศดีจังเลยนะคะ") == []
