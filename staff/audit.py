"""Every staff action, logged with who and when (table staff_audit)."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool


async def record(
    pool: AsyncConnectionPool, username: str | None, action: str, target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO staff_audit (username, action, target, detail) VALUES (%s, %s, %s, %s)",
            (username, action, target, Jsonb(detail or {})),
        )
