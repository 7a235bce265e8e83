"""FAQ entries: the questions an agency knows recur for a service, each with a short answer.

An entry is a question, the ways citizens type it (`variants`), a short answer (yes or no
first when the question is a yes/no question) whose facts come from the service's record or
the page in `source_url`, and the date of those facts. The NLU matches a citizen's question
to an entry (bot/nlu/faq_matcher.py, trained from the questions and variants); the answer
action then fetches the entry here and answers with it, so an edited answer is live at once.
A new entry, or new questions or variants, need a model trained with them.

Entries are seeded from catalog/faq/<service id>.yml when the catalog starts, like the
records: a seed entry is loaded when it is new, and follows its file while no agency has
edited it; an entry an agency has created or edited keeps the agency's text.

    GET   /services/{id}/faq                      the service's entries (public)
    GET   /services/{id}/faq/{faq_id}             one entry (public)
    POST  /admin/services/{id}/faq                {"by", "entry": {...}}: a new entry  (admin token)
    PATCH /admin/services/{id}/faq/{faq_id}       {"by", "fields": {...}}: some fields (admin token)

The admin routes are for the gateway alone (staff/api/faq.py checks who may edit what) and
take the same `Authorization: Bearer <CATALOG_ADMIN_TOKEN>` as the records' admin API.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, HTTPException
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import JSON, DateTime, Engine, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from catalog.faq_training import FAQ_DIR, FaqFileError, read_faq_file
from catalog.store import CatalogStore
from contract.replies import TOPICS

log = logging.getLogger("catalog.faq")

SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
# An answer is read on a phone: a few short sentences.
MAX_ANSWER_CHARS = 400
MAX_QUESTION_CHARS = 200
MAX_VARIANTS = 30
SEED = "seed"
AGENCY = "agency"

_THAI_LETTER = re.compile(r"[\u0e01-\u0e4e]")
_GARBLED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffd]")
_HTTPS = re.compile(r"^https://[^\s/$.?#][^\s]*$")


def _thai(value: str) -> str:
    # Citizens read these as they are, and the NLU learns the questions: Thai, and readable.
    if not _THAI_LETTER.search(value):
        raise ValueError("must be Thai text")
    if _GARBLED.search(value):
        raise ValueError("must not contain control characters or broken characters")
    return " ".join(value.split())


def _topic(value: str) -> str:
    if value not in TOPICS:
        raise ValueError("unknown topic")
    return value


Question = Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS), AfterValidator(_thai)]


class FaqEntry(BaseModel):
    """One entry as stored and served; unknown keys are refused (a typo must not vanish)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: Annotated[str, Field(pattern=SLUG, max_length=100)]
    service: Annotated[str, Field(pattern=SLUG, max_length=100)]
    topic: Annotated[str, AfterValidator(_topic)]
    question: Question
    variants: Annotated[list[Question], Field(max_length=MAX_VARIANTS)] = []
    answer: Annotated[str, Field(min_length=1, max_length=MAX_ANSWER_CHARS), AfterValidator(_thai)]
    source_url: str
    updated: dt.date

    @field_validator("source_url")
    @classmethod
    def _source(cls, value: str) -> str:
        if not _HTTPS.match(value):
            raise ValueError("must be an https URL")
        return value

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class FaqInvalid(ValueError):
    """An entry that may not be stored; `errors` are `{"field", "message"}` in Thai."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


_MESSAGES = {
    "must be Thai text": "ต้องเป็นข้อความภาษาไทย",
    "must not contain control characters or broken characters": "มีอักขระที่อ่านไม่ได้ปนอยู่",
    "must be an https URL": "ต้องเป็นลิงก์ที่ขึ้นต้นด้วย https://",
    "unknown topic": "ต้องเป็นหัวข้อหนึ่งใน " + ", ".join(TOPICS),
}


def _message(error: Any) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "value_error":
        text = str(ctx.get("error", ""))
        return _MESSAGES.get(text, text or str(error["msg"]))
    if kind == "missing":
        return "ต้องมีช่องนี้"
    if kind == "extra_forbidden":
        return "ไม่มีช่องนี้ในรายการคำถามที่พบบ่อย"
    if kind in ("string_too_short", "too_short"):
        return "ต้องกรอก"
    if kind == "string_too_long":
        return f"ยาวเกิน {ctx.get('max_length')} ตัวอักษร"
    if kind == "too_long":
        return f"ใส่ได้ไม่เกิน {ctx.get('max_length')} รายการ"
    if kind == "string_pattern_mismatch":
        return "ใช้ได้เฉพาะตัวอักษรภาษาอังกฤษตัวเล็ก ตัวเลข และขีด (-)"
    if kind.startswith("date_"):
        return "ต้องเป็นวันที่แบบ YYYY-MM-DD"
    if kind == "string_type":
        return "ต้องเป็นข้อความ"
    if kind == "list_type":
        return "ต้องเป็นรายการ [...]"
    return str(error["msg"])


def validate_entry(document: dict[str, Any]) -> FaqEntry:
    """The entry, or FaqInvalid with one `{"field", "message"}` per problem."""
    try:
        return FaqEntry.model_validate(document)
    except ValidationError as exc:
        seen: dict[tuple[str, str], None] = {}
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "(entry)"
            seen.setdefault((field, _message(error)), None)
        raise FaqInvalid([{"field": f, "message": m} for f, m in seen]) from exc


class FaqSeedError(Exception):
    """Seed files that cannot be served; the message names each file and field."""


def load_faq_seeds(directory: Path = FAQ_DIR) -> list[FaqEntry]:
    """Every entry of catalog/faq/*.yml, validated; all problems reported at once."""
    entries: list[FaqEntry] = []
    errors: list[str] = []
    ids: set[str] = set()
    for path in sorted(directory.glob("*.yml")):
        try:
            documents = read_faq_file(path)
        except FaqFileError as exc:
            errors.append(str(exc))
            continue
        for n, document in enumerate(documents, 1):
            try:
                entry = validate_entry(document)
            except FaqInvalid as exc:
                errors.append(f"{path}: entry {document.get('id') or n}: {exc}")
                continue
            if entry.service != path.stem:
                errors.append(f"{path}: entry {entry.id}: service '{entry.service}' is not the file's")
            if entry.id in ids:
                errors.append(f"{path}: entry {entry.id}: the id is used twice")
            ids.add(entry.id)
            entries.append(entry)
    if errors:
        raise FaqSeedError("\n".join(errors))
    return entries


def today_in_bangkok() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Bangkok")).date()


# -- storage ----------------------------------------------------------------------------------------------
class FaqBase(DeclarativeBase):
    """The FAQ's own metadata, so that its table is made without touching the records' tables."""


class FaqRow(FaqBase):
    __tablename__ = "catalog_faq"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    service_id: Mapped[str] = mapped_column(String(100), index=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    # `seed` while the entry is its file's; `agency` once created or edited through the admin API.
    origin: Mapped[str] = mapped_column(String(16))
    changed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class FaqNotFound(LookupError):
    pass


class FaqExists(ValueError):
    pass


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class FaqStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def create_schema(self) -> None:
        FaqBase.metadata.create_all(self.engine)

    def seed(self, entries: Iterable[FaqEntry]) -> int:
        """Load seed entries: new ones, and changed ones no agency has edited. Returns how many."""
        written = 0
        with self._sessions.begin() as session:
            for entry in entries:
                row = session.get(FaqRow, entry.id)
                document = entry.document()
                if row is None:
                    session.add(FaqRow(id=entry.id, service_id=entry.service, document=document,
                                       origin=SEED, changed_by=None, changed_at=_now()))  # fmt: skip
                elif row.origin == SEED and row.document != document:
                    row.document, row.service_id, row.changed_at = document, entry.service, _now()
                else:
                    continue
                written += 1
        return written

    def entries(self, service_id: str) -> list[dict[str, Any]]:
        with self._sessions() as session:
            rows = session.scalars(select(FaqRow).where(FaqRow.service_id == service_id).order_by(FaqRow.id))
            return [dict(row.document) for row in rows]

    def get(self, service_id: str, faq_id: str) -> dict[str, Any]:
        with self._sessions() as session:
            row = session.get(FaqRow, faq_id)
            if row is None or row.service_id != service_id:
                raise FaqNotFound(faq_id)
            return dict(row.document)

    def create(self, service_id: str, document: dict[str, Any], by: str) -> dict[str, Any]:
        entry = validate_entry({"updated": today_in_bangkok().isoformat(), **document, "service": service_id})
        try:
            with self._sessions.begin() as session:
                if session.get(FaqRow, entry.id) is not None:
                    raise FaqExists(entry.id)
                session.add(FaqRow(id=entry.id, service_id=service_id, document=entry.document(),
                                   origin=AGENCY, changed_by=by, changed_at=_now()))  # fmt: skip
        except IntegrityError as exc:  # another request made the same id a moment before
            raise FaqExists(entry.id) from exc
        return entry.document()

    def edit(self, service_id: str, faq_id: str, fields: dict[str, Any], by: str) -> dict[str, Any]:
        """Some fields changed; `id` and `service` stay, `updated` is today unless given."""
        fixed = {k: fields[k] for k in ("id", "service") if k in fields}
        with self._sessions.begin() as session:
            row = session.get(FaqRow, faq_id, with_for_update=True)
            if row is None or row.service_id != service_id:
                raise FaqNotFound(faq_id)
            if any(value != row.document[key] for key, value in fixed.items()):
                raise FaqInvalid([{"field": k, "message": "เปลี่ยนไม่ได้"} for k in fixed])
            document = {**row.document, "updated": today_in_bangkok().isoformat(), **fields}
            entry = validate_entry(document)
            row.document, row.origin, row.changed_by, row.changed_at = entry.document(), AGENCY, by, _now()
            return entry.document()


# -- routes ----------------------------------------------------------------------------------------------
class NewEntryBody(BaseModel):
    by: Annotated[str, Field(min_length=1, max_length=100)]
    entry: dict[str, Any]


class EditEntryBody(BaseModel):
    by: Annotated[str, Field(min_length=1, max_length=100)]
    fields: dict[str, Any]


def _json(document: Any, status_code: int = 200) -> JSONResponse:
    # As the records: no cache between here and the actions may keep an entry the agency changed.
    return JSONResponse(document, status_code=status_code, media_type="application/json; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})  # fmt: skip


def faq_router(
    store: CatalogStore, admin_token: str | None = None, seed_dir: Path | None = FAQ_DIR
) -> APIRouter:
    """The FAQ routes over the catalog's database; the table is made and the seeds loaded here,
    when the app is made (as __main__ loads the records' seeds before serving)."""
    token = os.environ.get("CATALOG_ADMIN_TOKEN", "") if admin_token is None else admin_token
    faq = FaqStore(store.engine)
    faq.create_schema()
    if seed_dir is not None:
        entries = load_faq_seeds(seed_dir)
        log.info("loaded %d of %d FAQ seed entries from %s", faq.seed(entries), len(entries), seed_dir)

    def require_admin(authorization: Annotated[str, Header()] = "") -> None:
        if not token:
            raise HTTPException(503, "the admin API is off: CATALOG_ADMIN_TOKEN is not set")
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "admin token required", headers={"WWW-Authenticate": "Bearer"})

    def service_exists(service_id: str) -> None:
        if store.get(service_id) is None:
            raise HTTPException(404, f"no service with id '{service_id}'")

    router = APIRouter()
    # The dependency on the router: an annotation naming a local alias would not resolve here.
    admin = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)], include_in_schema=False)

    @router.get("/services/{service_id}/faq")
    def list_entries(service_id: str) -> Any:
        service_exists(service_id)
        items = faq.entries(service_id)
        return _json({"items": items, "total": len(items)})

    @router.get("/services/{service_id}/faq/{faq_id}")
    def get_entry(service_id: str, faq_id: str) -> Any:
        try:
            return _json(faq.get(service_id, faq_id))
        except FaqNotFound:
            raise HTTPException(404, f"no FAQ entry '{faq_id}' for '{service_id}'") from None

    @admin.post("/services/{service_id}/faq")
    def create_entry(service_id: str, body: NewEntryBody) -> Any:
        service_exists(service_id)
        try:
            return _json(faq.create(service_id, body.entry, body.by), status_code=201)
        except FaqInvalid as exc:
            return _json({"errors": exc.errors}, status_code=422)
        except FaqExists:
            return _json({"errors": [{"field": "id", "message": "มีรายการนี้อยู่แล้ว"}]}, status_code=409)

    @admin.patch("/services/{service_id}/faq/{faq_id}")
    def edit_entry(service_id: str, faq_id: str, body: EditEntryBody) -> Any:
        try:
            return _json(faq.edit(service_id, faq_id, body.fields, body.by))
        except FaqInvalid as exc:
            return _json({"errors": exc.errors}, status_code=422)
        except FaqNotFound:
            raise HTTPException(404, f"no FAQ entry '{faq_id}' for '{service_id}'") from None

    router.include_router(admin)
    return router
