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
from typing import Annotated, Literal

from pydantic import (
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

# Seeds are JSON: a number must be a JSON number, never "600" or true.
Age = Annotated[StrictInt, Field(ge=0, le=150)]
Count = Annotated[StrictInt, Field(ge=0)]
Baht = Annotated[StrictInt, Field(ge=0)] | Annotated[StrictFloat, Field(ge=0)]
Years = Annotated[StrictInt, Field(gt=0)] | Annotated[StrictFloat, Field(gt=0)]

_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$")


def _check_url(value: str, *, allow_empty: bool) -> str:
    if value == "" and allow_empty:
        return value
    if not _URL.match(value):
        raise ValueError("must be an http(s) URL")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LocalizedName(_Strict):
    th: NonEmpty
    en: str = ""


class CompetentAuthority(_Strict):
    name_th: NonEmpty
    name_en: str = ""
    website: str = ""

    @field_validator("website")
    @classmethod
    def _website(cls, value: str) -> str:
        return _check_url(value, allow_empty=True)


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

    item: NonEmpty
    amount: Baht | None
    note: str = ""
    applies_to: AppliesTo = Field(default_factory=AppliesTo)

    @field_validator("amount")
    @classmethod
    def _whole_baht(cls, value: int | float | None) -> int | float | None:
        # Keep 1000 as 1000 (not 1000.0) in the served JSON.
        return int(value) if value is not None and float(value).is_integer() else value


class Document(_Strict):
    name: NonEmpty
    originals: Count = 0
    copies: Count = 0
    note: str = ""


class Channel(_Strict):
    type: ChannelType
    name: NonEmpty
    url: str = ""
    hours: str = ""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value, allow_empty=True)


class Contact(_Strict):
    hotline: str = ""
    website: str = ""
    line: str = ""

    @field_validator("website")
    @classmethod
    def _website(cls, value: str) -> str:
        return _check_url(value, allow_empty=True)


class ServiceRecord(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    category: Category
    name: LocalizedName
    synonyms: list[NonEmpty] = []
    competent_authority: CompetentAuthority
    description: str = ""
    eligibility: list[NonEmpty] = []
    documents: list[Document] = []
    fees: list[Amount] = []
    benefits: list[Amount] = []
    payment_schedule: str = ""
    channels: list[Channel] = []
    steps: list[NonEmpty] = []
    processing_time: str = ""
    deadlines: list[NonEmpty] = []
    penalties: list[NonEmpty] = []
    status_check: str = ""
    contact: Contact = Field(default_factory=Contact)
    legal_basis: list[NonEmpty] = []
    source_url: str
    updated: dt.date

    @field_validator("source_url")
    @classmethod
    def _source_url(cls, value: str) -> str:
        return _check_url(value, allow_empty=False)

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
