"""Pydantic models of the catalog record (docs/catalog-record.md is the contract).

Unknown keys are rejected everywhere so a typo in a seed file fails loudly instead of
silently dropping data the bot would need. Fields the doc shows but a record cannot fill
default to "" or [] so every served record has the full shape.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

Category = Literal["welfare", "license", "registration", "tax"]
ChannelType = Literal["office", "website", "app", "phone", "line", "post", "bank"]

# Plain text that must carry something; whitespace-only names are as useless as missing ones.
NonEmpty = Annotated[str, Field(min_length=1, pattern=r"\S")]

_THAI_LETTER = re.compile(r"[\u0e01-\u0e4e]")
# Control characters, and U+FFFD which is what text in a wrong encoding turns into.
_GARBLED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffd]")


def _thai(value: str) -> str:
    # The citizen reads these fields as they are: an English or garbled line would reach the chat.
    if value and not _THAI_LETTER.search(value):
        raise ValueError("must be Thai text")
    if _GARBLED.search(value):
        raise ValueError("must not contain control characters or broken characters")
    return value


# Text shown to citizens: Thai, one short sentence per list item (a phone screen); "" where optional.
ThaiText = Annotated[str, Field(max_length=500), AfterValidator(_thai)]
ThaiItem = Annotated[str, Field(min_length=1, max_length=500, pattern=r"\S"), AfterValidator(_thai)]
ThaiParagraph = Annotated[str, Field(max_length=2000), AfterValidator(_thai)]
# What a caller dials: digits with dashes, spaces or commas between numbers ("02-572-8442", "1548").
Phone = Annotated[str, Field(max_length=100, pattern=r"^(|[0-9][0-9 ,\-]*[0-9])$")]
# The competent authority's code (staff accounts of role agency carry the same, staff/accounts.py).
AgencyCode = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]

# Seeds are JSON: a number must be a JSON number, never "600" or true.
Age = Annotated[StrictInt, Field(ge=0, le=150)]
Count = Annotated[StrictInt, Field(ge=0)]
# Far above any fee or benefit of a citizen service: an extra zero or two is still caught as a typo.
MAX_BAHT = 10_000_000
Baht = Annotated[StrictInt, Field(ge=0, le=MAX_BAHT)] | Annotated[StrictFloat, Field(ge=0, le=MAX_BAHT)]
Years = Annotated[StrictInt, Field(gt=0)] | Annotated[StrictFloat, Field(gt=0)]
# How long a record may go without a change before its agency is asked to review it.
DEFAULT_REVIEW_DAYS = 365
ReviewDays = Annotated[StrictInt, Field(ge=1, le=3650)]

_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$")


def _check_url(value: str, *, allow_empty: bool) -> str:
    if value == "" and allow_empty:
        return value
    if not _URL.match(value):
        raise ValueError("must be an http(s) URL")
    return value


Url = Annotated[str, AfterValidator(lambda value: _check_url(value, allow_empty=False))]
UrlOrEmpty = Annotated[str, AfterValidator(lambda value: _check_url(value, allow_empty=True))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LocalizedName(_Strict):
    th: ThaiItem
    en: str = ""


class CompetentAuthority(_Strict):
    id: AgencyCode
    name_th: ThaiItem
    name_en: str = ""
    website: UrlOrEmpty = ""


class AppliesTo(_Strict):
    """Which person an amount is for; an empty object means everyone."""

    age_min: Age | None = None
    age_max: Age | None = None
    vehicle: Literal["car", "motorcycle"] | None = None
    validity_years: Years | None = None

    @model_validator(mode="after")
    def _age_range(self) -> AppliesTo:
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise ValueError("age_min must not be greater than age_max")
        return self


class Amount(_Strict):
    """One line of `fees` or `benefits`; `amount` is in baht, or null when the item is not a
    fixed sum (a share of wages): its `item` and `note` then say what it is."""

    item: ThaiItem
    amount: Baht | None
    note: ThaiText = ""
    applies_to: AppliesTo = Field(default_factory=AppliesTo)

    @field_validator("amount")
    @classmethod
    def _whole_baht(cls, value: int | float | None) -> int | float | None:
        # Keep 1000 as 1000 (not 1000.0) in the served JSON.
        return int(value) if value is not None and float(value).is_integer() else value


class Document(_Strict):
    name: ThaiItem
    originals: Count = 0
    copies: Count = 0
    note: ThaiText = ""


class Channel(_Strict):
    type: ChannelType
    name: ThaiItem
    url: UrlOrEmpty = ""
    hours: str = ""


class Contact(_Strict):
    hotline: Phone = ""
    website: UrlOrEmpty = ""
    line: str = ""


class ServiceRecord(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    category: Category
    name: LocalizedName
    synonyms: list[NonEmpty] = []
    competent_authority: CompetentAuthority
    description: ThaiParagraph = ""
    eligibility: list[ThaiItem] = []
    documents: list[Document] = []
    fees: list[Amount] = []
    benefits: list[Amount] = []
    payment_schedule: ThaiText = ""
    channels: list[Channel] = []
    steps: list[ThaiItem] = []
    processing_time: ThaiText = ""
    deadlines: list[ThaiItem] = []
    penalties: list[ThaiItem] = []
    status_check: ThaiText = ""
    contact: Contact = Field(default_factory=Contact)
    legal_basis: list[ThaiItem] = []
    source_url: Url
    updated: dt.date
    review_days: ReviewDays = DEFAULT_REVIEW_DAYS

    def document(self) -> dict[str, object]:
        """The record as served: JSON-ready, unset `applies_to` keys dropped (so `{}` means everyone)."""
        return self.model_dump(mode="json", exclude_none=True)

    def search_text(self) -> str:
        """Lower-cased text that `q` is matched against: Thai/English names, synonyms, description."""
        parts = [self.name.th, self.name.en, *self.synonyms, self.description]
        text = "\n".join(part for part in parts if part).casefold()
        # A second copy without whitespace lets "ม 39" and "ม39" find each other.
        return text + "\n" + re.sub(r"\s+", "", text)


SEED_DIR = Path(__file__).resolve().parent / "seed"


class SeedError(Exception):
    """A seed file that cannot be served; the message names the file and the field."""


# Pydantic adds the tried branch of a union (amount.constrained-int) to the location; the field is enough.
_UNION_TAGS = re.compile(r"^(constrained-)?(int|float|str)$")


def _where(location: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in location if not _UNION_TAGS.match(str(part))]
    return ".".join(parts) or "(record)"


def load_record(path: Path) -> ServiceRecord:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedError(f"{path}: cannot read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise SeedError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    try:
        record = ServiceRecord.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            dict.fromkeys(f"field '{_where(err['loc'])}': {err['msg']}" for err in exc.errors())
        )
        raise SeedError(f"{path}: {problems}") from exc
    if record.id != path.stem:
        raise SeedError(f"{path}: field 'id': '{record.id}' does not match the file name '{path.stem}'")
    return record


def load_seeds(seed_dir: Path = SEED_DIR) -> list[ServiceRecord]:
    """Validate every seed file; report all broken files at once rather than one per restart."""
    records: list[ServiceRecord] = []
    errors: list[str] = []
    for path in sorted(seed_dir.glob("*.json")):
        try:
            records.append(load_record(path))
        except SeedError as exc:
            errors.append(str(exc))
    if errors:
        raise SeedError("\n".join(errors))
    return records


# -- edits by an agency (catalog/store.py) -------------------------------------------------------------
class RecordInvalid(ValueError):
    """An edited record that may not go live; `errors` are `{"field", "message"}` in Thai for the
    agency's officer (../shared/spec/staff-api.md, Agency API)."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


# The messages of the validators above, for an officer who is not a programmer.
_VALUE_MESSAGES = {
    "must be an http(s) URL": "ต้องเป็นลิงก์ที่ขึ้นต้นด้วย http:// หรือ https://",
    "must be Thai text": "ต้องเป็นข้อความภาษาไทย",
    "must not contain control characters or broken characters": "มีอักขระที่อ่านไม่ได้ปนอยู่",
    "age_min must not be greater than age_max": "age_min ต้องไม่มากกว่า age_max",
}


def _number(value: Any) -> str:
    # A union's int and float branches carry 0 and 0.0: one message for both.
    number = float(value)
    return f"{int(number):,}" if number.is_integer() else f"{number:,}"


def _message(error: Any) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "value_error":
        text = str(ctx.get("error", ""))
        return _VALUE_MESSAGES.get(text, text or error["msg"])
    if kind == "missing":
        return "ต้องมีช่องนี้"
    if kind == "extra_forbidden":
        return "ไม่มีช่องนี้ในระเบียน (docs/catalog-record.md)"
    if kind in ("string_too_short", "list_too_short"):
        return "ต้องกรอก"
    if kind == "string_too_long":
        return f"ยาวเกิน {ctx.get('max_length')} ตัวอักษร"
    if kind in ("int_type", "float_type", "int_parsing", "float_parsing", "int_from_float"):
        return "ต้องเป็นตัวเลข (ไม่ใส่เครื่องหมายคำพูด)"
    if kind == "greater_than_equal":
        return f"ต้องไม่น้อยกว่า {_number(ctx['ge'])}"
    if kind == "greater_than":
        return f"ต้องมากกว่า {_number(ctx['gt'])}"
    if kind == "less_than_equal":
        return f"ต้องไม่เกิน {_number(ctx['le'])}"
    if kind == "string_type":
        return "ต้องเป็นข้อความ"
    if kind == "list_type":
        return "ต้องเป็นรายการ [...]"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "ต้องเป็นชุดข้อมูล {...}"
    if kind == "literal_error":
        return f"ต้องเป็นค่าใดค่าหนึ่ง: {ctx.get('expected')}"
    if kind.startswith("date_"):
        return "ต้องเป็นวันที่แบบ YYYY-MM-DD"
    if kind == "string_pattern_mismatch":
        return "รูปแบบไม่ถูกต้อง"
    return str(error["msg"])


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """One `{"field", "message"}` per problem; a union's branches say the same thing once."""
    seen: dict[tuple[str, str], None] = {}
    for error in exc.errors():
        seen.setdefault((_where(error["loc"]), _message(error)), None)
    return [{"field": field, "message": message} for field, message in seen]


def validate_edit(document: dict[str, Any]) -> ServiceRecord:
    """An edited record as it would go live, or RecordInvalid. Stricter than a seed in one way:
    the source an edit keeps must be a secure (https) page, the record's or a new one."""
    try:
        record = ServiceRecord.model_validate(document)
    except ValidationError as exc:
        raise RecordInvalid(field_errors(exc)) from exc
    if not record.source_url.startswith("https://"):
        raise RecordInvalid([{"field": "source_url", "message": "ต้องเป็นลิงก์ที่ขึ้นต้นด้วย https://"}])
    return record
