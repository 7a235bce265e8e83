"""The staff side off when its PostgreSQL or Redis cannot be reached (a laptop on the embedded stores).

The citizens' chat needs neither: it keeps answering, a handoff points to the hotline, and the staff
side's paths answer 503 with the reason instead of failing one by one.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from contract.replies import GOVERNMENT_HOTLINE
from gateway.config import Settings
from privacy import masked_logger
from staff.db import open_pool

log = masked_logger(__name__)

# Everything that reads the staff database or the live events: the staff API and pages, and the
# citizen's side of a conversation with a person.
STAFF_PATHS = ("/api/", "/agent", "/web/updates", "/web/callback")
# Seconds to wait for each server at start: missing, it refuses at once; a slow one is not worth waiting for.
PROBE_SECONDS = 5.0
STAFF_OFF_TH = f"ระบบเจ้าหน้าที่ยังไม่เปิดให้บริการ ติดต่อเจ้าหน้าที่ได้ที่สายด่วน {GOVERNMENT_HOTLINE} ค่ะ"


async def open_staff_side(settings: Settings) -> tuple[AsyncConnectionPool | None, Redis | None, str | None]:
    """The staff database's pool and the Redis of live events, or (None, None, why the side is off)."""
    pool = None
    try:
        # TimeoutError is an OSError.
        pool = await asyncio.wait_for(open_pool(settings.staff_db_url), PROBE_SECONDS * 2)
        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=PROBE_SECONDS)
        try:
            await redis.ping()
        except RedisError:
            await redis.aclose()
            raise
        return pool, redis, None
    except (OSError, psycopg.Error, PoolTimeout, RedisError) as exc:
        if pool is not None:
            await pool.close()
        reason = f"the staff side needs PostgreSQL ({_where(settings.staff_db_url)}) and Redis " + (
            f"({_where(settings.redis_url)}): {type(exc).__name__}"
        )
        log.warning("staff side off: %s; the chat answers, handoffs point to the hotline", reason)
        return None, None, reason


def _where(url: str) -> str:
    # host:port only: a URL may carry a password.
    rest = url.split("://", 1)[-1].split("/", 1)[0]
    return rest.rsplit("@", 1)[-1]


class StaffOff:
    """503 with the reason on the staff side's paths while it is off (`app.state.staff_off`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(STAFF_PATHS):
            reason: Any = getattr(scope["app"].state, "staff_off", None)
            if reason:
                body = {"error": STAFF_OFF_TH, "detail": reason}
                await JSONResponse(body, status_code=503)(scope, receive, send)
                return
        await self.app(scope, receive, send)
