"""`/api/analytics/...` (../shared/spec/staff-api.md, Analytics): what the assistant's turns add up to.

The rows come from the analytics consumer (analytics/: one row per turn, from Rasa's event
broker, reconciled with the tracker store). Days are Thai days (Asia/Bangkok), both ends
included. Supervisors and admins see every agency (or one, with `agency=`); an `agency`
account sees the turns about its own services only: the catalog's records name their agency
as `competent_authority.id`.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import os
import time
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import httpx
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from psycopg_pool import AsyncConnectionPool

from analytics import store
from analytics.clusters import cluster
from analytics.turns import text_hash
from contract.replies import CLARIFY, FEEDBACK_HELPFUL, FEEDBACK_INTENT, FEEDBACK_UNHELPFUL, OUT_OF_SCOPE
from privacy import masked_logger
from staff import audit
from staff.auth import ADMIN, AGENCY, SUPERVISOR, StaffDb, StaffUser, require_roles

log = masked_logger(__name__)

BANGKOK = ZoneInfo("Asia/Bangkok")
MAX_DAYS = 366
DEFAULT_DAYS = 7
# The unanswered questions clustered at most (the most asked first), and embedded at most in one
# call when the consumer has not embedded them yet.
MAX_QUESTIONS = 2000
MAX_EMBED_PER_CALL = 300
MAX_CLUSTERS = 100
SEED_DIR = Path(__file__).resolve().parents[2] / "catalog" / "seed"
AGENCIES_TTL_SECONDS = 300.0
DEFAULT_CATALOG_URL = "http://127.0.0.1:8001"

Analyst = Annotated[StaffUser, Depends(require_roles(SUPERVISOR, ADMIN, AGENCY))]


# ---- which services belong to which agency ---------------------------------------------------------


def agencies_from_records(records: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Agency code → the ids of its services, from catalog records."""
    result: dict[str, set[str]] = {}
    for record in records:
        authority = record.get("competent_authority")
        code = authority.get("id") if isinstance(authority, dict) else None
        if isinstance(code, str) and code and isinstance(record.get("id"), str):
            result.setdefault(code, set()).add(record["id"])
    return result


class ServiceAgencies:
    """The catalog's agencies (CATALOG_URL, `GET /services`), read again every few minutes; the
    seed records when the catalog does not answer."""

    def __init__(self, catalog_url: str | None = None, seed_dir: Path = SEED_DIR) -> None:
        self._url = (catalog_url or os.environ.get("CATALOG_URL") or DEFAULT_CATALOG_URL).rstrip("/")
        self._seed_dir = seed_dir
        self._map: dict[str, set[str]] | None = None
        self._read_at = 0.0
        self._lock = asyncio.Lock()

    async def _records(self) -> list[dict[str, Any]]:
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.get(f"{self._url}/services", params={"limit": 200})
                response.raise_for_status()
                items = response.json().get("items")
            if isinstance(items, list):
                return [i for i in items if isinstance(i, dict)]
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            log.warning("catalog at %s not read (%s); the seed records say who owns what", self._url, exc)
        records = []
        for path in sorted(self._seed_dir.glob("*.json")):
            records.append(json.loads(path.read_text(encoding="utf-8")))
        return records

    async def services_of(self, agency: str) -> set[str]:
        async with self._lock:
            if self._map is None or time.monotonic() - self._read_at > AGENCIES_TTL_SECONDS:
                self._map = agencies_from_records(await self._records())
                self._read_at = time.monotonic()
        return set(self._map.get(agency, set()))


def service_agencies(request: Request) -> ServiceAgencies:
    state = request.app.state
    if getattr(state, "analytics_agencies", None) is None:
        state.analytics_agencies = ServiceAgencies()
    return state.analytics_agencies


Agencies = Annotated[ServiceAgencies, Depends(service_agencies)]


# ---- the period and the scope ---------------------------------------------------------------------


def _day(raw: str | None, name: str) -> dt.date | None:
    if raw is None or raw == "":
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise HTTPException(422, f"`{name}` must be a date, YYYY-MM-DD") from None


def period(
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: Annotated[str | None, Query()] = None,
) -> tuple[dt.date, dt.date]:
    """The Thai days asked for, both included (the last week up to today by default)."""
    last = _day(to, "to") or dt.datetime.now(BANGKOK).date()
    first = _day(from_, "from") or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise HTTPException(422, "`from` is after `to`")
    if (last - first).days + 1 > MAX_DAYS:
        raise HTTPException(422, f"at most {MAX_DAYS} days at once")
    return first, last


Period = Annotated[tuple[dt.date, dt.date], Depends(period)]


def bounds(days: tuple[dt.date, dt.date]) -> tuple[dt.datetime, dt.datetime]:
    """The instants the Thai days start and end (exclusive)."""
    first, last = days
    start = dt.datetime.combine(first, dt.time(), BANGKOK)
    return start, dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), BANGKOK)


async def scope(user: StaffUser, agencies: ServiceAgencies, agency: str | None) -> list[str] | None:
    """The services whose turns the user sees: None for all. An agency account sees its own
    only, whatever it asks for; a supervisor or admin may narrow to one agency."""
    if user.role == AGENCY:
        return sorted(await agencies.services_of(user.agency)) if user.agency else []
    if agency:
        return sorted(await agencies.services_of(agency))
    return None


def _where(days: tuple[dt.date, dt.date], services: list[str] | None) -> tuple[str, list[Any]]:
    start, end = bounds(days)
    sql, params = "t.at >= %s AND t.at < %s", [start, end]
    if services is not None:
        sql += " AND t.service_id = ANY(%s)"
        params.append(services)
    return sql, params


async def _ensure(pool: AsyncConnectionPool) -> None:
    # The consumer creates the tables too; the gateway may be up before it ever ran.
    await store.ensure_schema(pool)


async def _turn_rows(
    pool: AsyncConnectionPool,
    days: tuple[dt.date, dt.date],
    services: list[str] | None,
    select: str,
    rest: str,
) -> list[dict[str, Any]]:
    """`SELECT {select} FROM analytics_turn t WHERE <the period, the services> {rest}`."""
    await _ensure(pool)
    where, params = _where(days, services)
    async with pool.connection() as conn:
        cur = await conn.execute(f"SELECT {select} FROM analytics_turn t WHERE {where} {rest}", params)
        return await cur.fetchall()


def _each_day(days: tuple[dt.date, dt.date]) -> list[dt.date]:
    first, last = days
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


# One conversation is one Rasa session of one sender.
_CONVERSATION = "t.conversation || ':' || coalesce(t.session_start::text, '')"
_ASK_BACK = f"t.kind = '{CLARIFY}' AND t.intent IS DISTINCT FROM '{FEEDBACK_INTENT}'"
# What the summary and summary.csv count of the turns they select.
_TALLIES = f"""count(*) AS turns,
    count(DISTINCT {_CONVERSATION}) AS conversations,
    count(DISTINCT {_CONVERSATION}) FILTER (WHERE t.handoff) AS handed_over,
    count(*) FILTER (WHERE t.handoff) AS handoffs,
    count(*) FILTER (WHERE {_ASK_BACK}) AS clarify,
    count(*) FILTER (WHERE t.kind = '{OUT_OF_SCOPE}') AS out_of_scope,
    count(*) FILTER (WHERE t.feedback = '{FEEDBACK_HELPFUL}') AS helpful,
    count(*) FILTER (WHERE t.feedback = '{FEEDBACK_UNHELPFUL}') AS unhelpful"""


async def _grouped(conn: Any, column: str, where: str, params: list[Any]) -> list[dict[str, Any]]:
    """Turns per value of one column (never NULL), most first."""
    cur = await conn.execute(
        f"""SELECT t.{column} AS value, count(*) AS n FROM analytics_turn t
             WHERE {where} AND t.{column} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1""",
        params,
    )
    return await cur.fetchall()


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


async def summary_of(
    pool: AsyncConnectionPool, days: tuple[dt.date, dt.date], services: list[str] | None
) -> dict[str, Any]:
    await _ensure(pool)
    where, params = _where(days, services)
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"""SELECT {_TALLIES},
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY t.latency_ms) AS p50,
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY t.latency_ms) AS p95
                  FROM analytics_turn t WHERE {where}""",
            params,
        )
        totals = await cur.fetchone()
        by_kind = await _grouped(conn, "kind", where, params)
        by_service = await _grouped(conn, "service_id", where, params)
        by_topic = await _grouped(conn, "topic", where, params)
        by_channel = await _grouped(conn, "channel", where, params)
        per_day = {
            row["day"]: row["n"]
            for row in await (
                await conn.execute(
                    f"""SELECT (t.at AT TIME ZONE 'Asia/Bangkok')::date AS day, count(*) AS n
                          FROM analytics_turn t WHERE {where} GROUP BY 1""",
                    params,
                )
            ).fetchall()
        }
    turns, conversations = totals["turns"], totals["conversations"]
    return {
        "turns": turns,
        "conversations": conversations,
        "by_kind": {row["value"]: row["n"] for row in by_kind},
        "handoffs": totals["handoffs"],
        # Conversations answered without a person; with none at all, nothing was contained.
        "containment": _share(conversations - totals["handed_over"], conversations),
        "by_service": [{"service_id": row["value"], "turns": row["n"]} for row in by_service],
        "by_day": [{"day": day.isoformat(), "turns": per_day.get(day, 0)} for day in _each_day(days)],
        # Beyond the spec (docs/agency.md).
        "from": days[0].isoformat(),
        "to": days[1].isoformat(),
        "by_topic": [{"topic": row["value"], "turns": row["n"]} for row in by_topic],
        "by_channel": {row["value"]: row["n"] for row in by_channel},
        "ask_back_rate": _share(totals["clarify"], turns),
        "out_of_scope_rate": _share(totals["out_of_scope"], turns),
        "feedback": {FEEDBACK_HELPFUL: totals["helpful"], FEEDBACK_UNHELPFUL: totals["unhelpful"]},
        "latency_ms": {
            "p50": round(totals["p50"]) if totals["p50"] is not None else None,
            "p95": round(totals["p95"]) if totals["p95"] is not None else None,
        },
    }


async def unanswered_of(
    pool: AsyncConnectionPool, days: tuple[dt.date, dt.date], services: list[str] | None
) -> dict[str, Any]:
    await _ensure(pool)
    where, params = _where(days, services)
    async with pool.connection() as conn:
        questions = await (
            await conn.execute(
                f"""SELECT t.text, count(*) AS n FROM analytics_turn t
                     WHERE {where} AND {store.UNANSWERED_SQL}
                     GROUP BY 1 ORDER BY 2 DESC, max(t.at) DESC LIMIT %s""",
                [*params, MAX_QUESTIONS],
            )
        ).fetchall()
        for question in questions:
            question["text_hash"] = text_hash(question["text"])
        hashes = [q["text_hash"] for q in questions]
        stored = {
            row["text_hash"]: row["vector"]
            for row in await (
                await conn.execute(
                    "SELECT text_hash, vector FROM analytics_embedding WHERE text_hash = ANY(%s)", (hashes,)
                )
            ).fetchall()
        }
    missing = [q for q in questions if q["text_hash"] not in stored][:MAX_EMBED_PER_CALL]
    if missing:
        # The consumer embeds in the background; a question it has not reached yet is embedded here.
        from analytics.embed import embed

        vectors = await asyncio.to_thread(embed, [q["text"] for q in missing])
        made = {q["text_hash"]: v.tolist() for q, v in zip(missing, vectors, strict=True)}
        async with pool.connection() as conn:
            await store.save_embeddings(conn, made)
        stored.update(made)
    ready = [q for q in questions if q["text_hash"] in stored]
    if not ready:
        return {"clusters": [], "questions": 0}
    import numpy as np

    matrix = np.asarray([stored[q["text_hash"]] for q in ready], dtype=np.float32)
    groups = await asyncio.to_thread(cluster, [q["text"] for q in ready], [q["n"] for q in ready], matrix)
    return {
        "clusters": [g.to_dict() for g in groups[:MAX_CLUSTERS]],
        "questions": sum(q["n"] for q in ready),
    }


# ---- CSV --------------------------------------------------------------------------------------------

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    # A citizen's text opened in a spreadsheet must not run as a formula.
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def _csv(header: list[str], rows: list[list[object]], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    # A byte order mark, so that spreadsheet programs read the Thai text as UTF-8.
    return Response(
        "\ufeff" + buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


TURN_COLUMNS = [
    "at", "conversation", "channel", "kind", "intent", "service_id", "topic", "confidence", "handoff",
    "feedback", "latency_ms", "text",
]  # fmt: skip
DAY_COLUMNS = [
    "day", "turns", "conversations", "handoffs", "containment", "answer", "clarify", "out_of_scope",
    "helpful", "unhelpful",
]  # fmt: skip


def analytics_router() -> APIRouter:
    router = APIRouter()

    @router.get("/api/analytics/summary")
    async def summary(
        user: Analyst, pool: StaffDb, days: Period, agencies: Agencies, agency: str | None = None
    ) -> dict[str, Any]:
        return await summary_of(pool, days, await scope(user, agencies, agency))

    @router.get("/api/analytics/unanswered")
    async def unanswered(
        user: Analyst, pool: StaffDb, days: Period, agencies: Agencies, agency: str | None = None
    ) -> dict[str, Any]:
        return await unanswered_of(pool, days, await scope(user, agencies, agency))

    @router.get("/api/analytics/turns.csv")
    async def turns_csv(
        user: Analyst, pool: StaffDb, days: Period, agencies: Agencies, agency: str | None = None
    ) -> Response:
        rows = await _turn_rows(
            pool,
            days,
            await scope(user, agencies, agency),
            """t.at, t.conversation, t.channel, t.kind, t.intent, t.service_id, t.topic,
               t.confidence, t.handoff, t.feedback, t.latency_ms, t.text""",
            "ORDER BY t.at",
        )
        # An export of citizens' (masked) words leaves the system: who took it is kept.
        detail = {"from": days[0].isoformat(), "to": days[1].isoformat(), "rows": len(rows)}
        await audit.record(pool, user.username, "analytics_export", "turns.csv", detail)
        table = [
            [row["at"].astimezone(BANGKOK).isoformat(timespec="seconds"), *[row[c] for c in TURN_COLUMNS[1:]]]
            for row in rows
        ]
        return _csv(TURN_COLUMNS, table, f"turns-{days[0]}-{days[1]}.csv")

    @router.get("/api/analytics/summary.csv")
    async def summary_csv(
        user: Analyst, pool: StaffDb, days: Period, agencies: Agencies, agency: str | None = None
    ) -> Response:
        rows = await _turn_rows(
            pool,
            days,
            await scope(user, agencies, agency),
            f"""(t.at AT TIME ZONE 'Asia/Bangkok')::date AS day, {_TALLIES},
                count(*) FILTER (WHERE t.kind = 'answer') AS answer""",
            "GROUP BY 1",
        )
        by_day = {row["day"]: row for row in rows}
        table = []
        for day in _each_day(days):
            row = by_day.get(day)
            if row is None:
                table.append([day.isoformat(), 0, 0, 0, 0.0, 0, 0, 0, 0, 0])
                continue
            conversations = row["conversations"]
            containment = _share(conversations - row["handed_over"], conversations)
            table.append([day.isoformat(), row["turns"], conversations, row["handoffs"], containment,
                          *[row[c] for c in DAY_COLUMNS[5:]]])  # fmt: skip
        return _csv(DAY_COLUMNS, table, f"summary-{days[0]}-{days[1]}.csv")

    return router
