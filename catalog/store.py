"""SQLAlchemy tables of catalog records and their versions, and the queries the API needs.

`catalog_service` holds the live record; `catalog_service_version` every state it has had:
version 1 is the record as first loaded from its seed, each edit or restore by an agency
(through the gateway) adds one, with who, when and which fields changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Engine,
    Integer,
    String,
    Text,
    case,
    create_engine,
    func,
    or_,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from catalog.models import DEFAULT_REVIEW_DAYS, RecordInvalid, ServiceRecord, validate_edit

log = logging.getLogger("catalog")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = f"sqlite:///{REPO_ROOT / 'run' / 'catalog.db'}"


class Base(DeclarativeBase):
    pass


class ServiceRow(Base):
    __tablename__ = "catalog_service"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    agency_name: Mapped[str] = mapped_column(String(300))
    name_th: Mapped[str] = mapped_column(String(300))
    search_text: Mapped[str] = mapped_column(Text)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated: Mapped[dt.date] = mapped_column(Date)


class VersionRow(Base):
    __tablename__ = "catalog_service_version"

    service_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    by: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    changed: Mapped[list[str]] = mapped_column(JSON)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    restored_from: Mapped[int | None] = mapped_column(Integer, nullable=True)


# The author of the versions loaded from catalog/seed/.
SEED_AUTHOR = "seed"
# Thailand keeps UTC+7 all year: `updated` and the review flag count Thai days.
BANGKOK = dt.timezone(dt.timedelta(hours=7), "Asia/Bangkok")
# Never listed as changed: every edit sets it.
_ALWAYS_SET = "updated"
_FIELD_ORDER = {name: n for n, name in enumerate(ServiceRecord.model_fields)}


class RecordNotFound(LookupError):
    pass


class NotTheAgencys(PermissionError):
    """The record (or what it would become) belongs to another agency than the one editing."""


def today_in_bangkok() -> dt.date:
    return dt.datetime.now(BANGKOK).date()


def etag_of(document: dict[str, Any]) -> str:
    """A strong ETag of the record's content: equal records, equal tags, whatever their version."""
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return '"' + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32] + '"'


def merge_patch(target: Any, patch: Any) -> Any:
    """JSON Merge Patch (RFC 7396): objects merge key by key, null removes a key, anything else
    (lists included) replaces; so `{"contact": {"hotline": "1548"}}` keeps the contact's website."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    names = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    names.discard(_ALWAYS_SET)
    return sorted(names, key=lambda name: (_FIELD_ORDER.get(name, len(_FIELD_ORDER)), name))


def review_due(document: dict[str, Any], today: dt.date) -> bool:
    """True when the record has gone unchanged for longer than its review period."""
    updated = dt.date.fromisoformat(document["updated"])
    days = document.get("review_days") or DEFAULT_REVIEW_DAYS
    return updated + dt.timedelta(days=days) < today


def _agency_of(document: dict[str, Any]) -> str | None:
    return (document.get("competent_authority") or {}).get("id")


def _iso(at: dt.datetime) -> str:
    # SQLite gives back naive datetimes; they were written in UTC.
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    return at.astimezone(BANGKOK).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Change:
    """What an edit or a restore did: the live record, its version, the fields it changed."""

    record: dict[str, Any]
    version: int
    changed: list[str]
    restored_from: int | None = None


@dataclass(frozen=True)
class SearchResult:
    items: list[dict[str, Any]]
    total: int


SUMMARY_FIELDS = ("id", "category", "name", "competent_authority", "source_url", "updated")


def normalize_url(url: str) -> str:
    """Accept plain postgresql:// URLs; the only PostgreSQL driver installed is psycopg 3."""
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        database = url.split("///", 1)[1] if "///" in url else ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # FastAPI runs sync endpoints in a thread pool, so connections move between threads.
        return create_engine(url, connect_args={"check_same_thread": False})
    return create_engine(url, pool_pre_ping=True)


class CatalogStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # One writer at a time in this process (SQLite has no row locks); the row lock taken
        # in each write covers other processes on PostgreSQL.
        self._write_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> CatalogStore:
        return cls(make_engine(url))

    def create_schema(self) -> None:
        Base.metadata.create_all(self.engine)

    def seed(self, records: Iterable[ServiceRecord]) -> int:
        """Load seed records; the number loaded or reloaded. A record seen for the first time
        becomes version 1. A seed file changed since it was last loaded becomes a new version,
        unless an agency has edited the record since: the agency's record stays live (its
        history keeps every state, and the seed's change is logged to be made by the agency)."""
        loaded = 0
        with self._write_lock, self._sessions.begin() as session:
            for record in records:
                document = record.document()
                latest = self._latest(session, record.id)
                if latest is None:
                    self._write(session, record, SEED_AUTHOR, 1, [], None)
                    loaded += 1
                    continue
                last_seed = session.scalars(
                    select(VersionRow)
                    .where(VersionRow.service_id == record.id, VersionRow.by == SEED_AUTHOR)
                    .order_by(VersionRow.version.desc())
                    .limit(1)
                ).first()
                if last_seed is not None and last_seed.document == document:
                    continue
                if last_seed is None or latest.document != last_seed.document:
                    log.warning(
                        "seed of %s changed, but the record was edited since (version %d by %s); "
                        "keeping the edited record", record.id, latest.version, latest.by,
                    )
                    continue
                changed = changed_fields(latest.document, document)
                self._write(session, record, SEED_AUTHOR, latest.version + 1, changed, None)
                loaded += 1
        return loaded

    def count(self) -> int:
        with self._sessions() as session:
            return session.scalar(select(func.count()).select_from(ServiceRow)) or 0

    def get(self, service_id: str) -> dict[str, Any] | None:
        with self._sessions() as session:
            row = session.get(ServiceRow, service_id)
            return dict(row.document) if row else None

    def search(self, q: str = "", category: str = "", agency: str = "", limit: int = 50) -> SearchResult:
        conditions = []
        q = q.strip().casefold()
        if q:
            compact = re.sub(r"\s+", "", q)
            conditions.append(
                or_(
                    ServiceRow.search_text.contains(q, autoescape=True),
                    ServiceRow.search_text.contains(compact, autoescape=True),
                )
            )
        if category.strip():
            conditions.append(ServiceRow.category == category.strip())
        if agency.strip():
            conditions.append(
                func.lower(ServiceRow.agency_name).contains(agency.strip().casefold(), autoescape=True)
            )
        with self._sessions() as session:
            total = session.scalar(select(func.count()).select_from(ServiceRow).where(*conditions)) or 0
            query = select(ServiceRow.document).where(*conditions)
            if q:
                # Services whose own name matches come before those matched by synonym or description.
                query = query.order_by(
                    case((func.lower(ServiceRow.name_th).contains(q, autoescape=True), 0), else_=1)
                )
            rows: Sequence[dict[str, Any]] = session.scalars(query.order_by(ServiceRow.id).limit(limit)).all()
        return SearchResult(items=[_summary(doc) for doc in rows], total=total)


    # -- edits (the admin API, for the gateway's agency API) --------------------------------------------
    def edit(
        self, service_id: str, by: str, fields: dict[str, Any], *, agency: str | None = None,
        today: dt.date | None = None,
    ) -> Change:
        """Merge `fields` into the live record, validate it and make it live with `updated` set to
        today. `agency`: the record must be that agency's, before and after.
        Raises RecordNotFound, NotTheAgencys, RecordInvalid."""
        with self._write_lock, self._sessions.begin() as session:
            row = self._row_for_update(session, service_id)
            current = dict(row.document)
            if agency is not None and _agency_of(current) != agency:
                raise NotTheAgencys(service_id)
            if "id" in fields and fields["id"] != service_id:
                raise RecordInvalid([{"field": "id", "message": "เปลี่ยนรหัสบริการไม่ได้"}])
            # `updated` is the catalog's to set: a value sent back from a record read earlier is ignored.
            edited = merge_patch(current, {k: v for k, v in fields.items() if k != _ALWAYS_SET})
            edited[_ALWAYS_SET] = (today or today_in_bangkok()).isoformat()
            record = validate_edit(edited)
            document = record.document()
            if agency is not None and _agency_of(document) != agency:
                raise NotTheAgencys(service_id)
            latest = self._latest(session, service_id)
            if document == current and latest is not None:
                # Nothing to record: the same content, already dated today.
                return Change(current, latest.version, [])
            version = latest.version + 1 if latest else 1
            changed = changed_fields(current, document)
            self._write(session, record, by, version, changed, None)
            return Change(document, version, changed)

    def restore(
        self, service_id: str, version: int, by: str, *, agency: str | None = None,
        today: dt.date | None = None,
    ) -> Change:
        """Make the record what it was at `version` again, as a new version that says so (dated
        today, like any change). Raises RecordNotFound (no record or no such version),
        NotTheAgencys, RecordInvalid (the old state breaks today's rules)."""
        with self._write_lock, self._sessions.begin() as session:
            row = self._row_for_update(session, service_id)
            current = dict(row.document)
            old = session.get(VersionRow, (service_id, version))
            if old is None:
                raise RecordNotFound(f"{service_id} has no version {version}")
            # Both: an agency may not restore a state in which the record was another agency's.
            if agency is not None and {_agency_of(current), _agency_of(old.document)} != {agency}:
                raise NotTheAgencys(service_id)
            restored = {**old.document, _ALWAYS_SET: (today or today_in_bangkok()).isoformat()}
            record = validate_edit(restored)
            document = record.document()
            latest = self._latest(session, service_id)
            number = latest.version + 1 if latest else 1
            changed = changed_fields(current, document)
            self._write(session, record, by, number, changed, version)
            return Change(document, number, changed, version)

    def history(self, service_id: str, *, agency: str | None = None) -> list[dict[str, Any]]:
        """Every version, oldest first, with the changed fields' values before and after."""
        with self._sessions() as session:
            row = session.get(ServiceRow, service_id)
            if row is None:
                raise RecordNotFound(service_id)
            if agency is not None and _agency_of(row.document) != agency:
                raise NotTheAgencys(service_id)
            rows = session.scalars(
                select(VersionRow).where(VersionRow.service_id == service_id).order_by(VersionRow.version)
            ).all()
        versions: list[dict[str, Any]] = []
        previous: dict[str, Any] = {}
        for version in rows:
            changed = list(version.changed)
            versions.append({
                "version": version.version,
                "by": version.by,
                "at": _iso(version.at),
                "changed": changed,
                "before": {name: previous.get(name) for name in changed},
                "after": {name: version.document.get(name) for name in changed},
                "restored_from": version.restored_from,
            })
            previous = version.document
        return versions

    def records(self, *, agency: str | None = None, today: dt.date | None = None) -> list[dict[str, Any]]:
        """The records an agency looks after (every record without `agency`), each with its
        review period, whether its review is due and its version."""
        today = today or today_in_bangkok()
        with self._sessions() as session:
            documents = session.scalars(select(ServiceRow.document).order_by(ServiceRow.id)).all()
            latest = select(VersionRow.service_id, func.max(VersionRow.version))
            versions = dict(session.execute(latest.group_by(VersionRow.service_id)).tuples().all())
        return [
            {
                **_summary(document),
                "review_days": document.get("review_days") or DEFAULT_REVIEW_DAYS,
                "review_due": review_due(document, today),
                "version": versions.get(document["id"]),
            }
            for document in documents
            if agency is None or _agency_of(document) == agency
        ]

    @staticmethod
    def _latest(session: Session, service_id: str) -> VersionRow | None:
        return session.scalars(
            select(VersionRow)
            .where(VersionRow.service_id == service_id)
            .order_by(VersionRow.version.desc())
            .limit(1)
        ).first()

    @staticmethod
    def _row_for_update(session: Session, service_id: str) -> ServiceRow:
        row = session.get(ServiceRow, service_id, with_for_update=True)
        if row is None:
            raise RecordNotFound(service_id)
        return row

    @staticmethod
    def _write(
        session: Session, record: ServiceRecord, by: str, version: int, changed: list[str],
        restored_from: int | None,
    ) -> None:
        session.merge(_to_row(record))
        session.add(
            VersionRow(
                service_id=record.id, version=version, by=by, at=dt.datetime.now(dt.timezone.utc),
                changed=changed, document=record.document(), restored_from=restored_from,
            )
        )


def _to_row(record: ServiceRecord) -> ServiceRow:
    return ServiceRow(
        id=record.id,
        category=record.category,
        agency_name=record.competent_authority.name_th,
        name_th=record.name.th,
        search_text=record.search_text(),
        document=record.document(),
        updated=record.updated,
    )


def _summary(document: dict[str, Any]) -> dict[str, Any]:
    return {field: document.get(field) for field in SUMMARY_FIELDS}
