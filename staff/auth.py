"""Who is calling the staff API: the bearer token's account, and the roles an endpoint admits.

    @router.get("/api/agent/queue")
    async def queue(user: Annotated[StaffUser, Depends(require_roles(AGENT, SUPERVISOR))]): ...

No valid token is 401, a role that may not is 403 (../shared/spec/staff-api.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool

AGENT = "agent"
SUPERVISOR = "supervisor"
AGENCY = "agency"
ADMIN = "admin"
ROLES = (AGENT, SUPERVISOR, AGENCY, ADMIN)
CALL_CENTRE = (AGENT, SUPERVISOR)

_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class StaffUser:
    username: str
    role: str
    agency: str | None
    display_name: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def staff_db(request: Request) -> AsyncConnectionPool:
    return request.app.state.staff_db


async def user_for_token(pool: AsyncConnectionPool, token: str) -> StaffUser | None:
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT u.username, u.role, u.agency, u.display_name
                 FROM staff_token t JOIN staff_user u USING (username)
                WHERE t.token_hash = %s AND t.expires_at > now()""",
            (token_hash(token),),
        )
        row = await cur.fetchone()
    return StaffUser(**row) if row else None


StaffDb = Annotated[AsyncConnectionPool, Depends(staff_db)]


async def current_user(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)], pool: StaffDb
) -> StaffUser:
    unauthorized = HTTPException(401, "sign in first", headers={"WWW-Authenticate": "Bearer"})
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise unauthorized
    user = await user_for_token(pool, credentials.credentials)
    if user is None:
        raise unauthorized
    return user


def require_roles(*roles: str) -> Callable[..., Awaitable[StaffUser]]:
    async def dependency(user: Annotated[StaffUser, Depends(current_user)]) -> StaffUser:
        if user.role not in roles:
            raise HTTPException(403, "this account's role may not do that")
        return user

    return dependency
