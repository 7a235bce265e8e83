"""privacy: national ids, phone numbers, e-mails, bank accounts and LINE ids never reach the
tracker or a log.

Both environments run these (the package is installed in both).
"""

from __future__ import annotations

import logging

import pytest

from privacy import (
    BANK_ACCOUNT_MASK,
    EMAIL_MASK,
    LINE_ID_MASK,
    NATIONAL_ID_MASK,
    PHONE_MASK,
    MaskingFilter,
    keyed_hash,
    mask,
    masked_logger,
    masking_handler,
)

# Fake national IDs with a right check digit (stdnum.th.pin), and one whose check digit is wrong.
VALID_ID = "1103700012346"
OTHER_VALID_ID = "3102004567892"
WRONG_CHECK_DIGIT = "1103700012345"


@pytest.mark.parametrize(
    "national_id",
    [
        "1103700012346",
        "1-1037-00012-34-6",
        "1 1037 00012 34 6",
        "1.1037.00012.34.6",
        "1 - 1037 - 00012 - 34 - 6",
        "11037-00012-346",
        "๑๑๐๓๗๐๐๐๑๒๓๔๖",
        "๑-๑๐๓๗-๐๐๐๑๒-๓๔-๖",
        "3102004567892",
    ],
)
def test_masks_national_ids_in_every_writing(national_id: str) -> None:
    # No word for the ID card around it: the check digit alone makes it an ID.
    assert mask(f"ข้อมูลของหนู {national_id} ค่ะ") == f"ข้อมูลของหนู {NATIONAL_ID_MASK} ค่ะ"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"เลขบัตร{VALID_ID}เช็คสิทธิ์ให้หน่อย", f"เลขบัตร{NATIONAL_ID_MASK}เช็คสิทธิ์ให้หน่อย"),
        (f"ของหนู{OTHER_VALID_ID}ค่ะ", f"ของหนู{NATIONAL_ID_MASK}ค่ะ"),
        ("หนู๑๑๐๓๗๐๐๐๑๒๓๔๖นะคะ", f"หนู{NATIONAL_ID_MASK}นะคะ"),
    ],
)
def test_masks_a_national_id_glued_to_thai_words(text: str, masked: str) -> None:
    assert mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        f"เลขบัตรประชาชนหนู {WRONG_CHECK_DIGIT} ค่ะ",
        f"บัตร {WRONG_CHECK_DIGIT} ทำพาสปอร์ตยังไง",
        f"เลขประจำตัวผู้เสียภาษี: {WRONG_CHECK_DIGIT}",
        f"ปชช.{WRONG_CHECK_DIGIT}",
        "ID card 1103700012345",
        "ส่งเลขนี้ให้ 1-1037-00012-34-5 ค่ะ",
        "ส่งเลขนี้ให้ ๑-๑๐๓๗-๐๐๐๑๒-๓๔-๕ ค่ะ",
    ],
)
def test_a_mistyped_id_is_masked_in_the_id_layout_or_after_a_word_for_the_card(text: str) -> None:
    masked = mask(text)
    assert NATIONAL_ID_MASK in masked
    assert not any(c.isdigit() for c in masked)


@pytest.mark.parametrize(
    "text",
    [
        f"เลขที่คำร้อง {WRONG_CHECK_DIGIT}",
        "เลขพัสดุ 1234567890123 ค่ะ",
        "ยอดรวม 9876543210987 บาท",
        "รหัส 0103700012346",  # a juristic person's number starts with 0: no person's ID
    ],
)
def test_thirteen_digits_failing_the_check_are_left_alone_without_an_id_context(text: str) -> None:
    assert mask(text) == text


@pytest.mark.parametrize(
    "phone",
    [
        "0812345678",
        "081-234-5678",
        "081 234 5678",
        "081.234.5678",
        "081 - 234 - 5678",
        "02-123-4567",
        "021234567",
        "0 2123 4567",
        "(02) 123 4567",
        "+66 81 234 5678",
        "+66812345678",
        "+66-81-234-5678",
        "+66 (0) 81 234 5678",
        "0066 81 234 5678",
        "66812345678",
        "081 234-5678",
        "๐๘๑๒๓๔๕๖๗๘",
        "๐๘๑-๒๓๔-๕๖๗๘",
    ],
)
def test_masks_thai_phone_numbers(phone: str) -> None:
    assert mask(f"โทรกลับเบอร์ {phone} นะคะ") == f"โทรกลับเบอร์ {PHONE_MASK} นะคะ"


def test_masks_a_phone_number_glued_to_thai_words() -> None:
    assert mask("เบอร์0812345678ค่ะ") == f"เบอร์{PHONE_MASK}ค่ะ"
    assert mask("โทร๐๘๙๗๖๕๔๓๒๑นะ") == f"โทร{PHONE_MASK}นะ"


@pytest.mark.parametrize("email", ["somchai.j@example.co.th", "nid+gov@mail.go.th", "a_b-c@hotmail.com"])
def test_masks_emails(email: str) -> None:
    assert mask(f"ส่งเอกสารมาที่ {email} ได้ไหม") == f"ส่งเอกสารมาที่ {EMAIL_MASK} ได้ไหม"


def test_an_email_glued_to_thai_words_keeps_the_words() -> None:
    assert mask("อีเมลsomchai@example.comค่ะ") == f"อีเมล{EMAIL_MASK}ค่ะ"


@pytest.mark.parametrize(
    "text",
    [
        "เลขบัญชี 123-4-56789-0",
        "โอนเข้า 123 4 56789 0 ค่ะ",
        "โอนมาที่ 123.4.56789.0",
        "บัญชี ๑๒๓-๔-๕๖๗๘๙-๐",
        "บัญชีกสิกร 1234567890",
        "เลขที่บัญชีธนาคารกรุงไทยของแม่คือ 9876543210",
        "โอนเข้าบัญชีออมสิน 020012345678",
        "ธ.ก.ส. เลขบัญชี 0-2012-34567-89",
        "บช.1234567890",
        "account no. 1234567890",
    ],
)
def test_masks_bank_accounts(text: str) -> None:
    masked = mask(text)
    assert BANK_ACCOUNT_MASK in masked
    assert not any(c.isdigit() for c in masked.replace("ธ.ก.ส.", ""))


def test_masks_line_ids() -> None:
    text = "user Ud4f1c2e3b4a5968778695a4b3c2d1e0f in group C0123456789abcdef0123456789abcdef"
    assert mask(text) == f"user {LINE_ID_MASK} in group {LINE_ID_MASK}"


def test_masks_everything_in_one_message() -> None:
    text = "ชื่อสมศรี เลข 3-1020-04567-89-2 โทร 089-765-4321 อีเมล somsri@example.com บัญชี 123-4-56789-0"
    masked = mask(text)
    assert masked == (
        f"ชื่อสมศรี เลข {NATIONAL_ID_MASK} โทร {PHONE_MASK} อีเมล {EMAIL_MASK} บัญชี {BANK_ACCOUNT_MASK}"
    )


ORDINARY = [
    "โทร 1111 ได้ตลอด 24 ชั่วโมง",
    "สายด่วนกรมการปกครอง 1548",
    "ประกันสังคม ม.39 ส่งเดือนละ 432 บาท",
    "ยื่นภาษีปี 2567 ภายในเดือนมีนาคม 2568",
    "ค่าธรรมเนียม 1,500 บาท",
    "เงินเดือน 25,000.50 บาท",
    "เบี้ยยังชีพ 600-1,000 บาทต่อเดือน",
    "แม่อายุ 75 ปีค่ะ",
    "ภ.ง.ด.91",
    "ทำพาสปอร์ตเล่ม 10 ปี",
    "ยื่นภายใน 15 วัน",
    "เลขที่คำร้อง 12345678901234567",
    "นัดวันที่ 01.02.2567 10.30 น.",
    "ครบกำหนด 02-02-2567 10:30",
    "นัด 20/05/2567 เวลา 09.30",
    "รหัสไปรษณีย์ 10200",
    "พัสดุ EF123456789TH",
    "ปี 2567 2568 2569",
    "วงเงิน 1,234,567,890 บาท",
    "ราคา ๑,๕๐๐ บาท",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_leaves_ordinary_numbers_alone(text: str) -> None:
    assert mask(text) == text


def test_no_personal_data_is_unchanged() -> None:
    assert mask("") == ""
    assert mask("ทำพาสปอร์ตกี่บาทคะ") == "ทำพาสปอร์ตกี่บาทคะ"


@pytest.mark.parametrize(
    "text",
    [
        f"เลข {VALID_ID} โทร 0812345678 อีเมล a@b.co บัญชี 123-4-56789-0",
        # The second number after a context word is not reached through the first one's placeholder.
        "บัญชี 1111111111 1234567890",
        f"บัตร {WRONG_CHECK_DIGIT} {WRONG_CHECK_DIGIT}",
        f"[เลขบัตรประชาชน] {WRONG_CHECK_DIGIT}",
        "[เลขบัญชี] 1234567890",
        f"{NATIONAL_ID_MASK}{PHONE_MASK}{EMAIL_MASK}{BANK_ACCOUNT_MASK}{LINE_ID_MASK}",
        "โทร ๐๘๑-๒๓๔-๕๖๗๘ หรือ +66 2 123 4567 ต่อ 12",
        *ORDINARY,
    ],
)
def test_masking_is_idempotent(text: str) -> None:
    once = mask(text)
    assert mask(once) == once


# ---- logs ----


def test_masking_filter_masks_arguments_and_tracebacks() -> None:
    record = logging.LogRecord(
        "gateway", logging.ERROR, __file__, 1, "user said %s", ("โทร 0812345678",), None
    )
    try:
        raise ValueError(f"id {VALID_ID}")
    except ValueError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    MaskingFilter().filter(record)
    assert "0812345678" not in record.getMessage()
    assert record.exc_text and VALID_ID not in record.exc_text


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


# ---- keyed hashes ----


def test_keyed_hashes_are_stable_per_key_and_purpose_and_never_read_as_personal_data() -> None:
    line_id = "Ud4f1c2e3b4a5968778695a4b3c2d1e0f"
    first = keyed_hash(line_id, "k1", "line-sender")
    assert first == keyed_hash(line_id, "k1", "line-sender")
    assert first != keyed_hash(line_id, "k2", "line-sender")
    assert first != keyed_hash(line_id, "k1", "something-else")
    assert line_id.lower() not in first and len(first) == 52
    assert mask(f"line:{first}") == f"line:{first}"  # base32: no digit runs for the masking to take


def test_keyed_hashes_refuse_an_empty_key() -> None:
    with pytest.raises(ValueError):
        keyed_hash("U0", "", "line-sender")
