"""Unit tests of the benchmark's own logic (bench/): `.venv/rasa/bin/pytest tests/bench`."""

from __future__ import annotations

from bench.calibrate import best, replay_service, replay_topic, service_decision
from bench.segmenters import agreement, nlpo3_tokenize, spans


def test_service_decision_follows_service_classifier_verdict() -> None:
    ranking = [("passport", 0.8), ("id-card", 0.1), ("none", 0.05)]
    assert service_decision(ranking, 0.5, 0.1) == ("answer", "passport")
    # Too close to the runner-up: ask back, unless `none` is at least as likely.
    close = [("passport", 0.45), ("id-card", 0.4), ("none", 0.15)]
    assert service_decision(close, 0.5, 0.1) == ("ask", "")
    follow_up = [("none", 0.5), ("passport", 0.3), ("id-card", 0.2)]
    assert service_decision(follow_up, 0.5, 0.1) == ("none", "none")


def test_replay_counts_wrong_answers_and_useful_questions_back() -> None:
    cases = [
        ("passport", [("passport", 0.9), ("id-card", 0.05)]),
        ("id-card", [("passport", 0.9), ("id-card", 0.05)]),  # confidently wrong
        ("id-card", [("passport", 0.5), ("id-card", 0.45)]),  # asked back, right one offered
        ("none", [("passport", 0.9), ("none", 0.1)]),  # a follow-up answered as a service
    ]
    outcome = replay_service(cases, 0.6, 0.2)
    assert (outcome.right, outcome.wrong, outcome.asked, outcome.clarified) == (1, 2, 1, 1)
    assert outcome.wrong_followups == 1
    # A stricter threshold trades the wrong answers for questions back.
    strict = best([replay_service(cases, t, 0.0) for t in (0.5, 0.95)], max_wrong=0.0)
    assert strict is not None and strict.threshold == 0.95 and strict.wrong == 0


def test_topic_replay_and_overview_fallback() -> None:
    cases = [("fee", [("fee", 0.9)]), ("overview", [("fee", 0.3)]), ("documents", [("fee", 0.3)])]
    outcome = replay_topic(cases, 0.5)
    assert (outcome.right, outcome.wrong, outcome.asked) == (1, 0, 2)
    assert outcome.right_with_fallback == 2


def test_agreement_on_word_spans() -> None:
    assert spans(["ทำ", "พาสปอร์ต"]) == {(0, 2), (2, 10)}
    same = agreement([["ทำ", "พาสปอร์ต"]], [["ทำ", "พาสปอร์ต"]])
    assert same == {"identical": 1.0, "token_f1": 1.0}
    split = agreement([["ทำ", "พาสปอร์ต"]], [["ทำ", "พาส", "ปอร์ต"]])
    assert split["identical"] == 0.0 and 0.0 < split["token_f1"] < 1.0


def test_nlpo3_keeps_project_words_whole() -> None:
    word = "บัตรปชช"
    assert word in nlpo3_tokenize(f"ทำ{word}ใหม่", frozenset({word}))


def test_lexicon_tally_counts_names_of_another_service_and_named_follow_ups() -> None:
    from bench.lexicon import tally
    from bench.nlu_data import Example
    from bot.nlu.service_lexicon import ServiceLexicon

    names = ServiceLexicon({"passport": ["หนังสือเดินทาง", "พาสปอร์ต"], "id-card": ["บัตรประชาชน"]})
    examples = [
        Example("ทำพาสปอร์ตกี่บาท", "ask_service", "passport", "fee", False),
        Example("บัตรประชาชนหายทำไง", "ask_service", "passport", "steps", False),  # names only another
        Example("จองคิวที่ไหน", "ask_service", "passport", "channels", False),  # names none
        Example("แล้วบัตรประชาชนต้องใช้ไหม", "ask_service", "none", "documents", False),  # a follow-up naming one
        Example("รอกี่วัน", "ask_service", "none", "processing_time", False),
        Example("พาสปอร์ต", "ask_service", "passport", "overview", True),  # the lexicon's own name: left out
    ]
    counts, misses = tally(names, examples)
    kinds = ("questions", "right", "only another", "none named")
    assert [counts[kind] for kind in kinds] == [3, 1, 1, 1]
    assert (counts["follow-ups"], counts["follow-ups named"]) == (2, 1)
    assert misses["only another"] == ["บัตรประชาชนหายทำไง  [passport] -> ['id-card']"]
