"""Staff accounts: argon2 password hashes, sign-in with a lockout, bearer tokens that expire.

Only a hash of each token is stored (staff.auth.token_hash), so the table signs nobody in.
A wrong name and a wrong password are refused alike, in about the same time.
"""

from __future__ import annotations

import asyncio
import functools
import math
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from limits import RateLimitItemPerMinute
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import ConnectionPool as RedisPool

from staff import audit
from staff.auth import AGENCY, ROLES, StaffUser, token_hash

PASSWORD_MIN_LENGTH = 8
# Names are typed at the sign-in form and appear in the audit; no spaces or look-alikes.
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
# The catalog's competent_authority.id: a short stable code such as `dlt`.
AGENCY_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW_MINUTES = 15

_hasher = PasswordHasher()


class AccountError(ValueError):
    """An account that may not be saved as asked (the message says why)."""


class SignInRefused(Exception):
    pass


class BadCredentials(SignInRefused):
    """A wrong name or a wrong password: deliberately one case."""


class LockedOut(SignInRefused):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; retry after {retry_after}s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Session:
    token: str
    user: StaffUser
    expires_at: datetime


def validate_account(username: str, role: str, agency: str | None) -> None:
    if not USERNAME_PATTERN.fullmatch(username):
        raise AccountError(f"username {username!r}: letters, digits and . _ @ - only, at most 64")
    if role not in ROLES:
        raise AccountError(f"role {role!r}: one of {', '.join(ROLES)}")
    if role == AGENCY and not agency:
        raise AccountError("role agency needs an agency code (e.g. dlt)")
    if role != AGENCY and agency:
        raise AccountError(f"role {role} belongs to no agency; give an agency code only with role agency")
    if agency and not AGENCY_PATTERN.fullmatch(agency):
        raise AccountError(f"agency code {agency!r}: lower-case letters, digits, _ and - only")


async def save_account(
    pool: AsyncConnectionPool, username: str, password: str, role: str,
    agency: str | None = None, display_name: str | None = None,
) -> bool:
    """Create the account or change its password, role and agency; True when it was created.

    An update ends the account's sign-ins: a password is usually reset because the old one
    leaked. A display name not given keeps the one the account has (the username if new).
    """
    validate_account(username, role, agency)
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError(f"the password needs at least {PASSWORD_MIN_LENGTH} characters")
    if display_name is not None and not display_name.strip():
        raise AccountError("the display name is empty")
    password_hash = await asyncio.to_thread(_hasher.hash, password)
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            """INSERT INTO staff_user (username, password_hash, role, agency, display_name)
               VALUES (%(username)s, %(hash)s, %(role)s, %(agency)s, COALESCE(%(display)s, %(username)s))
               ON CONFLICT (username) DO UPDATE
                  SET password_hash = EXCLUDED.password_hash, role = EXCLUDED.role,
                      agency = EXCLUDED.agency,
                      display_name = COALESCE(%(display)s, staff_user.display_name),
                      updated_at = now()
               RETURNING (xmax = 0) AS created""",
            {"username": username, "hash": password_hash, "role": role, "agency": agency,
             "display": display_name.strip() if display_name else None},
        )
        row = await cur.fetchone()
        created = bool(row and row["created"])
        if not created:
            await conn.execute("DELETE FROM staff_token WHERE username = %s", (username,))
    await audit.record(
        pool, None, "account_created" if created else "account_updated", username,
        {"role": role, "agency": agency},
    )
    return created


class Lockout:
    """Failed sign-ins per username in a moving window, kept in Redis so every gateway process
    counts the same failures. An attempt takes a slot before its password is checked, so many
    attempts at once cannot slip past the count; a correct password gives the slots back."""

    def __init__(
        self, redis_url: str, *, failures: int = LOCKOUT_FAILURES,
        window_minutes: int = LOCKOUT_WINDOW_MINUTES,
    ) -> None:
        self._redis = RedisPool.from_url(redis_url)
        storage = storage_from_string(
            "async+" + redis_url, implementation="redispy", connection_pool=self._redis,
            key_prefix="staff",
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._item = RateLimitItemPerMinute(failures, window_minutes, namespace="login")
        self.failures = failures
        self.window_minutes = window_minutes

    async def admit(self, username: str) -> bool:
        return await self._limiter.hit(self._item, username)

    async def exhausted(self, username: str) -> bool:
        return (await self._limiter.get_window_stats(self._item, username)).remaining <= 0

    async def retry_after(self, username: str) -> int:
        stats = await self._limiter.get_window_stats(self._item, username)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def clear(self, username: str) -> None:
        await self._limiter.clear(self._item, username)

    async def aclose(self) -> None:
        await self._redis.aclose()


@functools.cache
def dummy_hash() -> str:
    """A hash nobody knows the password of, with the current parameters: an unknown name is
    checked against it so that it takes as long as a known name with a wrong password."""
    return _hasher.hash(secrets.token_urlsafe(24))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def sign_in(
    pool: AsyncConnectionPool, lockout: Lockout, username: str, password: str, ttl_minutes: float
) -> Session:
    """A new session, or BadCredentials / LockedOut. Never records the password."""
    if not await lockout.admit(username):
        await audit.record(pool, None, "login_failed", username, {"reason": "locked_out"})
        raise LockedOut(await lockout.retry_after(username))
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT username, password_hash, role, agency, display_name FROM staff_user WHERE username = %s",
            (username,),
        )
        row = await cur.fetchone()
    stored = row["password_hash"] if row else dummy_hash()
    matches = await asyncio.to_thread(_verify, stored, password)
    if row is None or not matches:
        reason = "unknown_user" if row is None else "wrong_password"
        await audit.record(pool, None, "login_failed", username, {"reason": reason})
        if await lockout.exhausted(username):
            await audit.record(
                pool, None, "login_locked_out", username,
                {"failures": lockout.failures, "window_minutes": lockout.window_minutes},
            )
        raise BadCredentials()
    await lockout.clear(username)
    if _hasher.check_needs_rehash(stored):
        await _rehash(pool, username, password)
    token = secrets.token_urlsafe(32)
    async with pool.connection() as conn:
        # Expired tokens of this account are of no use to anyone; sign-in is a good time to go.
        await conn.execute("DELETE FROM staff_token WHERE username = %s AND expires_at <= now()", (username,))
        cur = await conn.execute(
            """INSERT INTO staff_token (token_hash, username, expires_at)
               VALUES (%s, %s, now() + make_interval(secs => %s)) RETURNING expires_at""",
            (token_hash(token), username, ttl_minutes * 60),
        )
        expires = await cur.fetchone()
    await audit.record(pool, username, "login", username)
    user = StaffUser(row["username"], row["role"], row["agency"], row["display_name"])
    return Session(token=token, user=user, expires_at=expires["expires_at"])


async def _rehash(pool: AsyncConnectionPool, username: str, password: str) -> None:
    # The parameters were raised since this hash was made; the password is at hand only now.
    new_hash = await asyncio.to_thread(_hasher.hash, password)
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE staff_user SET password_hash = %s, updated_at = now() WHERE username = %s",
            (new_hash, username),
        )
    await audit.record(pool, username, "password_rehashed", username)


async def sign_out(pool: AsyncConnectionPool, token: str, username: str) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "DELETE FROM staff_token WHERE token_hash = %s AND username = %s", (token_hash(token), username)
        )
    await audit.record(pool, username, "logout", username)
