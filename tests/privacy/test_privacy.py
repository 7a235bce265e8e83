"""privacy: national ids, phone numbers and e-mails never reach the tracker or a log.

Standard library only, like the package: run by both environments.
"""

from __future__ import annotations

import logging

import pytest

from privacy import (
    EMAIL_MASK,
    NATIONAL_ID_MASK,
    PHONE_MASK,
    MaskingFilter,
    mask,
    masked_logger,
    masking_handler,
)


@pytest.mark.parametrize(
    "national_id",
    [
        "1103700012345",
        "1-1037-00012-34-5",
        "1 1037 00012 34 5",
        "๑๑๐๓๗๐๐๐๑๒๓๔๕",
        "๑-๑๐๓๗-๐๐๐๑๒-๓๔-๕",
    ],
)
def test_masks_national_ids(national_id: str) -> None:
    assert mask(f"เลขบัตรประชาชนหนู {national_id} ค่ะ") == f"เลขบัตรประชาชนหนู {NATIONAL_ID_MASK} ค่ะ"


def test_masks_a_national_id_glued_to_thai_words() -> None:
    assert mask("เลขบัตร1103700012345เช็คสิทธิ์ให้หน่อย") == f"เลขบัตร{NATIONAL_ID_MASK}เช็คสิทธิ์ให้หน่อย"


@pytest.mark.parametrize(
    "phone",
    [
        "0812345678",
        "081-234-5678",
        "081 234 5678",
        "02-123-4567",
        "021234567",
        "+66 81 234 5678",
        "+66812345678",
    ],
)
def test_masks_thai_phone_numbers(phone: str) -> None:
    assert mask(f"โทรกลับเบอร์ {phone} นะคะ") == f"โทรกลับเบอร์ {PHONE_MASK} นะคะ"


def test_masks_a_phone_number_in_thai_digits() -> None:
    # Thai keyboards type Thai digits; an id in Thai digits is masked, a phone must be too.
    assert mask("เบอร์ ๐๘๑๒๓๔๕๖๗๘ ค่ะ") == f"เบอร์ {PHONE_MASK} ค่ะ"


@pytest.mark.parametrize("email", ["somchai.j@example.co.th", "nid+gov@mail.go.th", "a_b-c@hotmail.com"])
def test_masks_emails(email: str) -> None:
    assert mask(f"ส่งเอกสารมาที่ {email} ได้ไหม") == f"ส่งเอกสารมาที่ {EMAIL_MASK} ได้ไหม"


def test_masks_everything_in_one_message() -> None:
    text = "ชื่อสมศรี เลข 3-1020-04567-89-1 โทร 089-765-4321 อีเมล somsri@example.com"
    masked = mask(text)
    assert masked == f"ชื่อสมศรี เลข {NATIONAL_ID_MASK} โทร {PHONE_MASK} อีเมล {EMAIL_MASK}"
    for digits in ("3-1020-04567-89-1", "089-765-4321", "somsri"):
        assert digits not in masked


@pytest.mark.parametrize(
    "text",
    [
        "โทร 1111 ได้ตลอด 24 ชั่วโมง",
        "สายด่วนกรมการปกครอง 1548",
        "ประกันสังคม ม.39 ส่งเดือนละ 432 บาท",
        "ยื่นภาษีปี 2567 ภายในเดือนมีนาคม 2568",
        "ค่าธรรมเนียม 1,500 บาท",
        "เบี้ยยังชีพ 600-1,000 บาทต่อเดือน",
        "แม่อายุ 75 ปีค่ะ",
        "ภ.ง.ด.91",
        "ทำพาสปอร์ตเล่ม 10 ปี",
        "ยื่นภายใน 15 วัน",
        "เลขที่คำร้อง 12345678901234567",
    ],
)
def test_leaves_ordinary_numbers_alone(text: str) -> None:
    assert mask(text) == text


def test_no_personal_data_is_unchanged() -> None:
    assert mask("") == ""
    assert mask("ทำพาสปอร์ตกี่บาทคะ") == "ทำพาสปอร์ตกี่บาทคะ"


def test_masking_is_idempotent() -> None:
    once = mask("เลข 1103700012345 โทร 0812345678 อีเมล a@b.co")
    assert mask(once) == once


# ---- logs ----


def test_masking_filter_masks_arguments_and_tracebacks() -> None:
    record = logging.LogRecord(
        "gateway", logging.ERROR, __file__, 1, "user said %s", ("โทร 0812345678",), None
    )
    try:
        raise ValueError("id 1103700012345")
    except ValueError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    MaskingFilter().filter(record)
    assert "0812345678" not in record.getMessage()
    assert record.exc_text and "1103700012345" not in record.exc_text


def test_masked_logger_and_handler_mask_what_they_pass_on() -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = masked_logger("tests.privacy")
    assert masked_logger("tests.privacy").filters == logger.filters  # added once
    logger.addHandler(Keep())
    logger.propagate = False
    logger.warning("อีเมล %s", "somchai.j@example.co.th")
    assert records[-1].getMessage() == f"อีเมล {EMAIL_MASK}"

    handler = masking_handler("%(message)s")
    record = logging.LogRecord("uvicorn", logging.INFO, __file__, 1, "GET /?q=%s", ("0812345678",), None)
    assert handler.format(record) == "GET /?q=0812345678"  # formatting alone does not mask
    assert all(f.filter(record) for f in handler.filters)
    assert handler.format(record) == f"GET /?q={PHONE_MASK}"


def test_masking_filter_hides_tokens_in_urls() -> None:
    url = 'HTTP Request: POST http://127.0.0.1:5005/conversations/x/tracker/events?token=s3cr3t&a=1 "200"'
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, url, None, None)
    MaskingFilter().filter(record)
    assert "s3cr3t" not in record.getMessage()
    assert "?token=***&a=1" in record.getMessage()
