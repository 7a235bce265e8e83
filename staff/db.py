"""The staff side's PostgreSQL: a connection pool, the database created if missing, the schema applied."""

from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

SCHEMA = Path(__file__).with_name("schema.sql")


def _conninfo(url: str) -> str:
    # SQLAlchemy-style URLs (postgresql+psycopg://) are accepted, as elsewhere in the project.
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


async def ensure_database(url: str) -> None:
    """Create the database named in `url` if it does not exist (a fresh machine has only postgres)."""
    conninfo = _conninfo(url)
    parts = urlsplit(conninfo)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
        found = await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if await found.fetchone() is None:
            # Another gateway process may create it first.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


async def open_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> AsyncConnectionPool:
    """A pool of connections returning rows as dicts, on a database with the schema applied."""
    await ensure_database(url)
    pool = AsyncConnectionPool(
        _conninfo(url),
        min_size=min_size,
        max_size=max_size,
        kwargs={"row_factory": dict_row, "autocommit": True},
        # A connection is checked as it is handed out (one empty query): after PostgreSQL restarts, every
        # pooled connection is dead, and each would otherwise fail one request of a citizen or an agent.
        check=AsyncConnectionPool.check_connection,
        open=False,
    )
    await pool.open(wait=True, timeout=10)
    # One process at a time: CREATE ... IF NOT EXISTS is not safe against itself.
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(7207001)")
        await conn.execute(SCHEMA.read_text(encoding="utf-8"))
    return pool
