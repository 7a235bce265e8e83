"""The candidate gate's checks (staff/candidates/conflicts.py, gate.py), without models or a database.

The questions here are written for these tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from staff.candidates import gate
from staff.candidates.conflicts import NewExample, find_conflicts, normalise
from staff.candidates.gate import Question, compare_cv, compare_regression, cv_summary
from staff.candidates.regression import read_dir
from staff.candidates.trainingdata import Example, read_examples, read_file, render

REPO = Path(__file__).resolve().parents[2]


# -- normalising --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ต่อภาษีรถจักรยานยนต์ที่ไหนครับ", "ต่อภาษี รถจักรยานยนต์ ที่ไหน คะ"),
        ("ทำพาสปอร์ตเด็ก ใช้อะไรบ้างนะคะ?", "ทำพาสปอร์ตเด็กใช้อะไรบ้าง"),
        ("ค่าปรับ ๒ ปี เท่าไหร่จ้ะ", "ค่าปรับ 2 ปีเท่าไหร่"),
        ("ขอข้อมูลหน่อยค่ะ!!", "ขอข้อมูล"),
    ],
)
def test_spacing_punctuation_digits_and_particles_do_not_count(a: str, b: str) -> None:
    assert normalise(a) == normalise(b)


def test_tone_marks_and_vowels_do_count() -> None:
    assert normalise("ทำพาสปอร์ต") != normalise("ทำพาสปอรต")
    assert normalise("ค่ะ") == "" and normalise("คะแนนสอบ") == "คะแนนสอบ"


# -- conflicts ---------------------------------------------------------------------------------------------
DATA = [
    Example("ต่อภาษีรถเก๋งออนไลน์ได้ไหม", "ask_service", "vehicle-tax", "channels", "tax.yml"),
    Example("ใบขับขี่", "ask_service", "driving-licence-new", "overview", "lexicon.yml"),
    Example("ใบขับขี่", "ask_service", "driving-licence-renewal", "overview", "lexicon.yml"),
    Example("สมัครมาตรา 39 ออนไลน์ได้ไหม", "ask_service", "social-security-39", "channels", "welfare.yml"),
    Example("สวัสดีครับ", "greet", None, None, "smalltalk.yml"),
    Example("เสียเงินไหม", "ask_service", None, "fee", "faq.yml"),  # an FAQ variant naming no service
]


def test_the_same_question_under_another_service_conflicts() -> None:
    found = find_conflicts([NewExample("ต่อภาษีรถเก๋ง ออนไลน์ได้ไหมครับ", "passport", "fee")], DATA)
    assert found == [
        {
            "text": "ต่อภาษีรถเก๋ง ออนไลน์ได้ไหมครับ",
            "service_id": "passport",
            "conflicts_with": "vehicle-tax",
            "example": "ต่อภาษีรถเก๋งออนไลน์ได้ไหม",
            "source": "tax.yml",
            "how": "same",
            "similarity": 100.0,
        }
    ]


def test_a_near_copy_conflicts() -> None:
    found = find_conflicts([NewExample("ต่อภาษีรถเก๋งออนไลน์ได้มั้ย", "passport", "fee")], DATA)
    assert [(c["conflicts_with"], c["how"]) for c in found] == [("vehicle-tax", "near")]
    assert 90 <= float(found[0]["similarity"]) < 100


def test_the_same_service_and_unlike_questions_do_not_conflict() -> None:
    assert find_conflicts([NewExample("ต่อภาษีรถเก๋งออนไลน์ได้ไหม", "vehicle-tax", "fee")], DATA) == []
    assert find_conflicts([NewExample("ทำพาสปอร์ตที่ห้างได้ไหม", "passport", "channels")], DATA) == []


def test_a_name_the_data_gives_two_services_is_no_conflict_for_either() -> None:
    assert find_conflicts([NewExample("ใบขับขี่", "driving-licence-renewal", "overview")], DATA) == []
    found = find_conflicts([NewExample("ใบขับขี่", "passport", "overview")], DATA)
    assert {c["conflicts_with"] for c in found} == {"driving-licence-new", "driving-licence-renewal"}


def test_other_numbers_make_another_question() -> None:
    new = NewExample("สมัครมาตรา 40 ออนไลน์ได้ไหม", "social-security-40", "channels")
    assert find_conflicts([new], DATA) == []


def test_another_intent_conflicts_and_unlabelled_faq_variants_do_not() -> None:
    found = find_conflicts([NewExample("สวัสดีครับ", "passport", "overview")], DATA)
    assert [c["conflicts_with"] for c in found] == ["greet"]
    assert find_conflicts([NewExample("เสียเงินไหมคะ", "passport", "fee")], DATA) == []


def test_a_copy_of_the_projects_training_data_under_another_service_conflicts() -> None:
    data = read_examples(REPO / "data")
    passport = next(
        e for e in data if e.service == "passport" and e.source == "licences.yml" and len(e.text) > 15
    )
    found = find_conflicts([NewExample(passport.text, "id-card", passport.topic or "fee")], data)
    assert any(c["conflicts_with"] == "passport" and c["how"] == "same" for c in found)


# -- training data ------------------------------------------------------------------------------------------
def test_examples_are_written_and_read_back_with_their_labels(tmp_path: Path) -> None:
    path = tmp_path / "agency_candidate.yml"
    written = [("vehicle-tax", "fee", "ต่อภาษีรถกระบะกี่บาท"), ("passport", "documents", "ทำพาสปอร์ตใช้อะไร")]
    path.write_text(render(written, "written by a test"), encoding="utf-8")
    examples = read_file(path)
    assert {(e.service, e.topic, e.text) for e in examples} == set(written)
    assert path.read_text(encoding="utf-8").startswith("# written by a test\n")


def test_the_projects_examples_carry_service_and_topic() -> None:
    data = read_examples(REPO / "data")
    asks = [e for e in data if e.intent == "ask_service" and e.source == "welfare.yml"]
    assert asks and all(e.service and e.topic for e in asks)


def test_the_regression_set_has_questions_for_every_service_with_known_topics() -> None:
    from contract.replies import TOPICS

    questions = read_dir()
    services = {q.service_id for q in questions}
    assert len(services) == 30 and all(q.topic in TOPICS for q in questions)
    assert min(sum(q.service_id == s for q in questions) for s in services) >= 4


# -- the regression comparison ----------------------------------------------------------------------------
def answer(service: str | None, topic: str | None, intent: str = "ask_service") -> dict[str, str | None]:
    return {"intent": intent, "service_id": service, "topic": topic}


QUESTIONS = [
    *(Question(f"ภาษีรถข้อ {n}", "vehicle-tax", "fee", "dlt") for n in range(4)),
    *(Question(f"ใบขับขี่ข้อ {n}", "driving-licence-renewal", "documents", "dlt") for n in range(4)),
]
RIGHT = [answer(q.service_id, q.topic) for q in QUESTIONS]


def test_unchanged_answers_pass_with_nothing_changed() -> None:
    assert compare_regression(QUESTIONS, RIGHT, RIGHT, {"vehicle-tax"}) == ([], [])


def test_one_question_lost_is_tolerated_and_listed() -> None:
    after = [*RIGHT[:4], answer("driving-licence-renewal", "fee"), *RIGHT[5:]]
    changed, reasons = compare_regression(QUESTIONS, RIGHT, after, {"vehicle-tax"})
    assert reasons == []
    assert changed == [
        {
            "text": "ใบขับขี่ข้อ 0",
            "service_id": "driving-licence-renewal",
            "topic": "documents",
            "before": answer("driving-licence-renewal", "documents"),
            "after": answer("driving-licence-renewal", "fee"),
            "broke": True,
            "fixed": False,
        }
    ]


def test_two_questions_lost_by_a_service_fail_the_gate() -> None:
    lost = [answer(None, "documents"), answer("driving-licence-renewal", None, "out_of_scope")]
    after = [*RIGHT[:4], *lost, *RIGHT[6:]]
    changed, reasons = compare_regression(QUESTIONS, RIGHT, after, {"vehicle-tax"})
    assert len(changed) == 2 and all(c["broke"] for c in changed)
    assert reasons == ["driving-licence-renewal: 2 of 4 regression questions answered worse (50 points)"]


def test_taking_another_services_question_fails_at_once() -> None:
    after = [*RIGHT[:4], answer("vehicle-tax", "documents"), *RIGHT[5:]]
    _, reasons = compare_regression(QUESTIONS, RIGHT, after, {"vehicle-tax"})
    assert len(reasons) == 1 and "now goes to vehicle-tax" in reasons[0]


def test_a_question_fixed_is_listed_and_passes() -> None:
    before = [answer("passport", "fee"), *RIGHT[1:]]
    changed, reasons = compare_regression(QUESTIONS, before, RIGHT, {"vehicle-tax"})
    assert reasons == [] and changed[0]["fixed"] and not changed[0]["broke"]


def test_summary_per_service() -> None:
    summary = gate.summarise(QUESTIONS, [answer(None, None), *RIGHT[1:]])
    assert summary["right"] == 7
    assert summary["by_service"]["vehicle-tax"] == {"n": 4, "right": 3, "accuracy": 0.75}


# -- the cross-validation comparison -----------------------------------------------------------------------
def rows(service: str, right: int, wrong: int) -> list[dict[str, str]]:
    return [
        {"text": f"{service} {n}", "service": service, "topic": "fee",
         "predicted_service": service if n < right else "other", "predicted_topic": "fee"}
        for n in range(right + wrong)
    ]


OTHERS = [row for n in range(9) for row in rows(f"service-{n}", 100, 0)]


def test_cross_validation_tolerates_small_drops_only() -> None:
    before = cv_summary(rows("vehicle-tax", 95, 5) + OTHERS)
    assert compare_cv(before, cv_summary(rows("vehicle-tax", 92, 8) + OTHERS)) == []
    reasons = compare_cv(before, cv_summary(rows("vehicle-tax", 88, 12) + OTHERS))
    assert reasons == ["vehicle-tax: cross-validated service accuracy down 7.0 points"]
    everything = cv_summary(rows("vehicle-tax", 92, 8) + [
        {**row, "predicted_service": "other"} if row["text"].endswith(" 0") else row for row in OTHERS
    ])
    expected = "all services: cross-validated service accuracy down 1.2 points"
    assert compare_cv(before, everything) == [expected]


def test_cross_validation_compares_the_shared_examples_only() -> None:
    data = rows("vehicle-tax", 2, 1)
    keys = {(r["text"], r["service"], r["topic"]) for r in data[:2]}
    assert cv_summary(data, keys)["by_service"]["vehicle-tax"]["service_accuracy"] == 1.0
