"""QuestionFeaturizer: the question at the end of a long message gets features of its own."""

from __future__ import annotations

from bot.nlu.question_featurizer import last_clause


def test_the_last_clause_of_a_story_is_its_question() -> None:
    story = "แม่อายุเจ็ดสิบสองปี อยู่ต่างจังหวัดกับพี่สาว ตอนนี้ได้เดือนละเท่าไหร่คะ"
    assert last_clause(story, 12) == "ตอนนี้ได้เดือนละเท่าไหร่คะ"


def test_short_trailing_parts_are_joined_until_long_enough() -> None:
    assert last_clause("ขอถามเรื่องพาสปอร์ต ต้องใช้ อะไรบ้าง", 12) == "ต้องใช้ อะไรบ้าง"


def test_a_short_message_is_its_own_clause() -> None:
    assert last_clause("กี่บาท", 12) == "กี่บาท"
    assert last_clause("", 12) == ""
