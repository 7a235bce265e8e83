"""`/api/agency/services/{id}/faq`: an agency's FAQ entries (docs/agency.md, FAQ entries).

- `GET /api/agency/services/{id}/faq` -> `{"items": [...]}`, the service's entries as the catalog serves them
- `POST /api/agency/services/{id}/faq` `{"topic", "question", "variants", "answer", "source_url"}`
  (optionally `id` and `updated`) -> `201 {"entry": {...}, "candidate": "<id>"}`
- `PATCH /api/agency/services/{id}/faq/{faq_id}` with some of the entry's fields
  -> `200 {"entry": {...}, "candidate": "<id>" | null}`

Roles agency and admin; an agency account only for the services whose catalog record names its
code as `competent_authority.id` (403 otherwise). The catalog validates an entry (Thai text, an
https source, a topic of contract.replies.TOPICS) and stores it (catalog/faq.py): its 422
`{"errors": [{"field", "message"}]}` is passed on. What the entry says is live at once, since
the answer action reads the entry from the catalog on every answer. What it is asked by needs a
model: a new entry, or changed questions or variants, start a candidate model
(staff/candidates), which the agency deploys once it passes the gate; until then the entry is
stored but not matched. Every change is audited.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from privacy import masked_logger
from staff import audit
from staff.auth import ADMIN, AGENCY, StaffDb, StaffUser, require_roles
from staff.candidates import start_candidate

log = masked_logger(__name__)

Editor = Annotated[StaffUser, Depends(require_roles(AGENCY, ADMIN))]
# Ids of services and entries: only these reach a path of the catalog ("../x" cannot).
_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
# What the NLU is trained on: a change to either needs a new model.
MATCHED_BY = ("question", "variants")

NOT_FOUND = "ไม่พบบริการนี้ในแคตตาล็อก"
NO_ENTRY = "ไม่พบคำถามที่พบบ่อยรายการนี้"
NOT_YOURS = "บริการนี้อยู่ในความรับผิดชอบของหน่วยงานอื่น แก้ไขได้เฉพาะบริการของหน่วยงานตนเองค่ะ"
NO_AGENCY = "บัญชีนี้ยังไม่ได้ผูกกับหน่วยงาน จึงแก้ไขคำถามที่พบบ่อยไม่ได้ค่ะ"
UNAVAILABLE = "ตอนนี้ติดต่อแคตตาล็อกไม่ได้ ลองใหม่อีกครั้งในอีกสักครู่ค่ะ"
NOT_AN_OBJECT = "ต้องส่งเป็นชุดข้อมูล JSON {...}"
EXISTS = "มีคำถามที่พบบ่อยรหัสนี้อยู่แล้ว"


class FaqAdmin:
    """The catalog's FAQ routes (catalog/faq.py): public reads, admin writes with the token."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0) -> None:
        self.configured = bool(token)
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The catalog's response; 503 when it does not answer, or the admin API is off."""
        if method != "GET" and not self.configured:
            log.error("CATALOG_ADMIN_TOKEN unset: FAQ entries cannot be edited")
            raise HTTPException(503, UNAVAILABLE)
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            log.error("catalog %s %s: %s", method, path, type(exc).__name__)
            raise HTTPException(503, UNAVAILABLE) from exc
        if response.status_code in (401, 503) or response.status_code >= 500:
            log.error("catalog %s %s: HTTP %s", method, path, response.status_code)
            raise HTTPException(503, UNAVAILABLE)
        return response


def faq_admin(request: Request) -> FaqAdmin:
    return request.app.state.faq_admin


Catalog = Annotated[FaqAdmin, Depends(faq_admin)]


def _id(value: str, missing: str) -> str:
    if not _ID.fullmatch(value):
        raise HTTPException(404, missing)
    return value


async def agency_record(service_id: str, user: StaffUser, catalog: FaqAdmin) -> dict[str, Any]:
    """The service's record, when the account may edit its entries; else 404 or 403."""
    if user.role != ADMIN and not user.agency:
        raise HTTPException(403, NO_AGENCY)
    response = await catalog.call("GET", f"/services/{_id(service_id, NOT_FOUND)}")
    if response.status_code == 404:
        raise HTTPException(404, NOT_FOUND)
    record = response.json()
    if user.role != ADMIN and (record.get("competent_authority") or {}).get("id") != user.agency:
        raise HTTPException(403, NOT_YOURS)
    return record


async def _body(request: Request) -> dict[str, Any] | None:
    # Read by hand: a body that is not an object gets the spec's error shape, not FastAPI's.
    try:
        body = json.loads(await request.body())
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _errors(response: httpx.Response) -> JSONResponse:
    try:
        errors = response.json().get("errors")
    except ValueError:
        errors = None
    if not isinstance(errors, list):
        errors = [{"field": "(entry)", "message": f"HTTP {response.status_code}"}]
    return JSONResponse({"errors": errors}, status_code=422)


async def _candidate(pool: StaffDb, user: StaffUser, entry: dict[str, Any], agency: str | None) -> str | None:
    """A candidate model that learns the entry's questions; None if it could not be queued (the
    entry is kept, and saving it again starts one)."""
    try:
        return await start_candidate(pool, user, faq_entries=[entry], agency=agency)
    except Exception:  # the answer is live either way; the officer sees no candidate and retries
        log.exception("no candidate model for FAQ entry %s", entry.get("id"))
        return None


def faq_router() -> APIRouter:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings = app.state.settings
        app.state.faq_admin = FaqAdmin(settings.catalog_url, settings.catalog_admin_token)
        try:
            yield
        finally:
            await app.state.faq_admin.aclose()

    router = APIRouter(prefix="/api/agency/services", lifespan=lifespan)

    @router.get("/{service_id}/faq")
    async def entries(service_id: str, user: Editor, catalog: Catalog) -> dict[str, Any]:
        await agency_record(service_id, user, catalog)
        response = await catalog.call("GET", f"/services/{service_id}/faq")
        if response.status_code == 404:
            raise HTTPException(404, NOT_FOUND)
        return {"items": response.json()["items"]}

    @router.post("/{service_id}/faq", status_code=201, response_model=None)
    async def create(
        service_id: str, request: Request, user: Editor, catalog: Catalog, pool: StaffDb
    ) -> dict[str, Any] | JSONResponse:
        record = await agency_record(service_id, user, catalog)
        entry = await _body(request)
        if entry is None:
            return JSONResponse({"errors": [{"field": "(entry)", "message": NOT_AN_OBJECT}]}, status_code=422)
        # A stable id of its own unless the officer chose one: the envelope and analytics name it.
        entry = {"id": f"{service_id}-{secrets.token_hex(3)}", **entry, "service": service_id}
        response = await catalog.call(
            "POST", f"/admin/services/{service_id}/faq", json={"by": user.username, "entry": entry}
        )
        if response.status_code == 409:
            return JSONResponse({"errors": [{"field": "id", "message": EXISTS}]}, status_code=422)
        if response.status_code != 201:
            return _errors(response)
        stored = response.json()
        agency = (record.get("competent_authority") or {}).get("id")
        candidate = await _candidate(pool, user, stored, agency)
        await audit.record(pool, user.username, "faq_create", service_id,
                           {"faq_id": stored["id"], "candidate": candidate})  # fmt: skip
        return {"entry": stored, "candidate": candidate}

    @router.patch("/{service_id}/faq/{faq_id}", response_model=None)
    async def edit(
        service_id: str, faq_id: str, request: Request, user: Editor, catalog: Catalog, pool: StaffDb
    ) -> dict[str, Any] | JSONResponse:
        record = await agency_record(service_id, user, catalog)
        path = f"/services/{service_id}/faq/{_id(faq_id, NO_ENTRY)}"
        fields = await _body(request)
        if fields is None:
            return JSONResponse({"errors": [{"field": "(entry)", "message": NOT_AN_OBJECT}]}, status_code=422)
        before = await catalog.call("GET", path)
        if before.status_code == 404:
            raise HTTPException(404, NO_ENTRY)
        response = await catalog.call("PATCH", f"/admin{path}", json={"by": user.username, "fields": fields})
        if response.status_code == 404:
            raise HTTPException(404, NO_ENTRY)
        if response.status_code != 200:
            return _errors(response)
        stored = response.json()
        changed = sorted(k for k in stored if stored[k] != before.json().get(k))
        candidate = None
        if any(k in changed for k in MATCHED_BY):
            agency = (record.get("competent_authority") or {}).get("id")
            candidate = await _candidate(pool, user, stored, agency)
        await audit.record(pool, user.username, "faq_edit", service_id,
                           {"faq_id": faq_id, "changed": changed, "candidate": candidate})  # fmt: skip
        return {"entry": stored, "candidate": candidate}

    return router
