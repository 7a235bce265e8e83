"""Sign-in, who am I, sign-out: /api/auth/... (../shared/spec/staff-api.md, "Accounts and sign-in")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from gateway.config import Settings
from privacy import masked_logger
from staff import accounts
from staff.auth import StaffUser, current_user, staff_db

log = masked_logger(__name__)
_bearer = HTTPBearer(auto_error=False)
# One answer for a wrong name and a wrong password, so the answer does not say which names exist.
BAD_CREDENTIALS = "wrong username or password"


class LoginBody(BaseModel):
    # No control characters: no account has them, and PostgreSQL refuses a NUL outright.
    username: str = Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")
    # A bound on what is hashed per request; no real password comes near it.
    password: str = Field(min_length=1, max_length=1024)


class LoginAnswer(BaseModel):
    token: str
    role: str
    agency: str | None
    expires_at: datetime


class Me(BaseModel):
    username: str
    role: str
    agency: str | None
    display_name: str


def _settings(app: FastAPI) -> Settings:
    return getattr(app.state, "settings", None) or Settings.from_env()


def _lockout(request: Request) -> accounts.Lockout:
    return request.app.state.staff_lockout


Pool = Annotated[AsyncConnectionPool, Depends(staff_db)]
Caller = Annotated[StaffUser, Depends(current_user)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
LockoutDep = Annotated[accounts.Lockout, Depends(_lockout)]


def auth_router() -> APIRouter:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        lockout = accounts.Lockout(_settings(app).redis_url)
        app.state.staff_lockout = lockout
        # Made now, not at the first unknown name, whose answer would otherwise come late.
        await asyncio.to_thread(accounts.dummy_hash)
        try:
            yield
        finally:
            await lockout.aclose()

    router = APIRouter(prefix="/api/auth", lifespan=lifespan)

    @router.post("/login")
    async def login(
        body: LoginBody, request: Request, pool: Pool, lockout: LockoutDep
    ) -> LoginAnswer:
        try:
            session = await accounts.sign_in(
                pool, lockout, body.username, body.password, _settings(request.app).token_ttl_minutes
            )
        except accounts.BadCredentials:
            raise HTTPException(401, BAD_CREDENTIALS) from None
        except accounts.LockedOut as locked:
            raise HTTPException(
                429, "too many failed sign-ins for this name; try again later",
                headers={"Retry-After": str(locked.retry_after)},
            ) from None
        except RedisError as error:
            # Without the failure count a password could be guessed at leisure: refuse instead.
            log.error("sign-in refused, the lockout store is unavailable: %s", error)
            raise HTTPException(503, "sign-in is unavailable for the moment") from None
        user = session.user
        return LoginAnswer(
            token=session.token, role=user.role, agency=user.agency, expires_at=session.expires_at
        )

    @router.get("/me")
    async def me(user: Caller) -> Me:
        return Me(username=user.username, role=user.role, agency=user.agency, display_name=user.display_name)

    @router.post("/logout", status_code=204)
    async def logout(user: Caller, credentials: Credentials, pool: Pool) -> Response:
        if credentials is not None:  # current_user let the call through, so it carries the token
            await accounts.sign_out(pool, credentials.credentials, user.username)
        return Response(status_code=204)

    return router
