"""Candidates in PostgreSQL, from the gateway's side (async): queue one, read them, record a deployment."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from contract.replies import TOPICS
from staff.auth import StaffUser

SCHEMA = Path(__file__).with_name("schema.sql")
# pg_advisory_xact_lock keys: applying the schema, and one deploy at a time.
SCHEMA_LOCK = 7207012
DEPLOY_LOCK = 7207013
# The queue's NOTIFY channel: a waiting worker starts at once instead of at its next poll.
CHANNEL = "candidate_jobs"
STATUSES = ("queued", "training", "testing", "passed", "failed", "deployed")
MAX_TEXT_CHARS = 300


async def ensure_schema(pool: AsyncConnectionPool) -> None:
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        await conn.execute(SCHEMA.read_text(encoding="utf-8"))


def new_id() -> str:
    # Sortable by time at a glance, unguessable enough not to be enumerated.
    return datetime.now(timezone.utc).strftime("c%Y%m%d%H%M%S") + "-" + secrets.token_hex(3)


def _clean_examples(examples: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    cleaned = []
    for example in examples:
        text = " ".join(str(example.get("text") or "").split())
        service, topic = str(example.get("service_id") or ""), str(example.get("topic") or "")
        if not text or len(text) > MAX_TEXT_CHARS or not service or topic not in TOPICS:
            raise ValueError(f"not a valid example: {example!r}")
        cleaned.append((service, topic, text))
    return list(dict.fromkeys(cleaned))


async def start_candidate(
    pool: AsyncConnectionPool,
    user: StaffUser,
    examples: list[dict[str, str]] | None = None,
    faq_entries: list[dict[str, Any]] | None = None,
    agency: str | None = None,
) -> str:
    """Queue a candidate; its id. ValueError for an example without service, topic or text."""
    rows = _clean_examples(examples or [])
    entries = list(faq_entries or [])
    if not rows and not entries:
        raise ValueError("a candidate needs examples or FAQ entries")
    agency = agency or user.agency
    candidate_id = new_id()
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(
            """INSERT INTO model_candidate (id, agency, created_by, faq_entries, report)
               VALUES (%s, %s, %s, %s, %s)""",
            (candidate_id, agency, user.username, Jsonb(entries), Jsonb({"step": "queued"})),
        )
        async with conn.cursor() as cur:
            await cur.executemany(
                """INSERT INTO candidate_example (candidate_id, agency, service_id, topic, text)
                   VALUES (%s, %s, %s, %s, %s)""",
                [(candidate_id, agency, service, topic, text) for service, topic, text in rows],
            )
        await conn.execute("INSERT INTO candidate_job (candidate_id) VALUES (%s)", (candidate_id,))
        await conn.execute(f"NOTIFY {CHANNEL}")
    return candidate_id


async def get_candidate(pool: AsyncConnectionPool, candidate_id: str) -> dict[str, Any] | None:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT * FROM model_candidate WHERE id = %s", (candidate_id,))
        row = await cur.fetchone()
        if row is None:
            return None
        cur = await conn.execute(
            "SELECT service_id, topic, text FROM candidate_example WHERE candidate_id = %s ORDER BY id",
            (candidate_id,),
        )
        row["examples"] = await cur.fetchall()
    return row


async def list_candidates(
    pool: AsyncConnectionPool, agency: str | None, limit: int = 100
) -> list[dict[str, Any]]:
    """Newest first; an agency's own only when `agency` is given."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT c.id, c.agency, c.created_by, c.created_at, c.status, c.progress, c.step,
                      c.model_id, c.deployed_at, c.finished_at,
                      coalesce(array_agg(DISTINCT e.service_id) FILTER (WHERE e.service_id IS NOT NULL), '{}')
                        AS services,
                      count(e.id) AS examples
                 FROM model_candidate c LEFT JOIN candidate_example e ON e.candidate_id = c.id
                WHERE %(agency)s::text IS NULL OR c.agency = %(agency)s
                GROUP BY c.id ORDER BY c.created_at DESC LIMIT %(limit)s""",
            {"agency": agency, "limit": limit},
        )
        return await cur.fetchall()


async def record_deployment(pool: AsyncConnectionPool, candidate_id: str, username: str) -> None:
    """The candidate is live: its examples are accepted and join the regression set."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(
            """UPDATE model_candidate SET status = 'deployed', deployed_at = now(), deployed_by = %s
                WHERE id = %s""",
            (username, candidate_id),
        )
        await conn.execute(
            """UPDATE candidate_example SET accepted_at = now()
                WHERE candidate_id = %s AND accepted_at IS NULL""",
            (candidate_id,),
        )
        await conn.execute(
            """INSERT INTO regression_question (agency, service_id, topic, text, candidate_id)
               SELECT coalesce(agency, ''), service_id, topic, text, candidate_id
                 FROM candidate_example WHERE candidate_id = %s
               ON CONFLICT (service_id, text) DO NOTHING""",
            (candidate_id,),
        )


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def candidate_json(row: dict[str, Any], live_model_id: str | None) -> dict[str, Any]:
    """The API's shape (../shared/spec/staff-api.md) and what the pages show beside it."""
    report = dict(row.get("report") or {})
    for key in ("before", "after"):
        report.setdefault(key, {})
    report.setdefault("changed", [])
    report.setdefault("conflicts", [])
    return {
        "id": row["id"],
        "status": row["status"],
        "progress": round(float(row["progress"]), 3),
        "step": row["step"],
        "report": report,
        "agency": row["agency"],
        "created_by": row["created_by"],
        "created_at": _iso(row["created_at"]),
        "started_at": _iso(row.get("started_at")),
        "finished_at": _iso(row.get("finished_at")),
        "deployed_at": _iso(row.get("deployed_at")),
        "deployed_by": row.get("deployed_by"),
        "model_id": row.get("model_id"),
        "live": bool(row.get("model_id")) and row.get("model_id") == live_model_id,
        "examples": row.get("examples", []),
        "faq_entries": [e.get("id") for e in row.get("faq_entries") or []],
        "error": row.get("error"),
    }
