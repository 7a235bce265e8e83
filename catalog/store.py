"""SQLAlchemy table of catalog records and the queries the API needs."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Date, Engine, String, Text, case, create_engine, func, or_, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from catalog.models import ServiceRecord

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

    @classmethod
    def from_url(cls, url: str) -> CatalogStore:
        return cls(make_engine(url))

    def create_schema(self) -> None:
        Base.metadata.create_all(self.engine)

    def upsert(self, records: Iterable[ServiceRecord]) -> int:
        count = 0
        with self._sessions.begin() as session:
            for record in records:
                session.merge(_to_row(record))
                count += 1
        return count

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
