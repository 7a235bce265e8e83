"""`/api/agency/services/...` (../shared/spec/staff-api.md, Agency API, the records part).

An agency account edits, reads the history of and restores only its own agency's records (the
catalog's `competent_authority.id`); an admin any record. The catalog validates and keeps the
history (staff/catalog_admin.py); an edit is live at once, since the actions revalidate their
copy of a record on every use. Every change is audited.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from privacy import masked_logger
from staff import audit
from staff.auth import ADMIN, AGENCY, StaffDb, StaffUser, require_roles
from staff.catalog_admin import (
    CatalogAdmin,
    CatalogUnavailable,
    NotTheAgencys,
    RecordInvalid,
    RecordNotFound,
)

log = masked_logger(__name__)

Editor = Annotated[StaffUser, Depends(require_roles(AGENCY, ADMIN))]
T = TypeVar("T")

NOT_FOUND = "ไม่พบบริการนี้ในแคตตาล็อก"
NOT_YOURS = "บริการนี้อยู่ในความรับผิดชอบของหน่วยงานอื่น แก้ไขได้เฉพาะบริการของหน่วยงานตนเองค่ะ"
NO_AGENCY = "บัญชีนี้ยังไม่ได้ผูกกับหน่วยงาน จึงแก้ไขข้อมูลบริการไม่ได้ค่ะ"
UNAVAILABLE = "ตอนนี้ติดต่อแคตตาล็อกไม่ได้ ลองใหม่อีกครั้งในอีกสักครู่ค่ะ"
NOT_AN_OBJECT = "ต้องส่งเป็นชุดข้อมูล JSON {...} ของช่องที่จะแก้"


def catalog_admin(request: Request) -> CatalogAdmin:
    return request.app.state.catalog_admin


Catalog = Annotated[CatalogAdmin, Depends(catalog_admin)]


def agency_of(user: Editor) -> str | None:
    """The agency code the catalog is to hold the call to: the account's, or None for an admin."""
    if user.role == ADMIN:
        return None
    if not user.agency:
        raise HTTPException(403, NO_AGENCY)
    return user.agency


Agency = Annotated[str | None, Depends(agency_of)]


def _errors(errors: list[dict[str, str]]) -> JSONResponse:
    return JSONResponse({"errors": errors}, status_code=422)


async def _ask(call: Awaitable[T]) -> T:
    """The catalog's answer, or the HTTP error the agency's page shows."""
    try:
        return await call
    except RecordNotFound:
        raise HTTPException(404, NOT_FOUND) from None
    except NotTheAgencys:
        raise HTTPException(403, NOT_YOURS) from None
    except CatalogUnavailable as exc:
        log.error("catalog admin API: %s", exc)
        raise HTTPException(503, UNAVAILABLE) from exc


def agency_router() -> APIRouter:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.catalog_admin = CatalogAdmin.from_settings(app.state.settings)
        if not app.state.catalog_admin.configured:
            log.warning("CATALOG_ADMIN_TOKEN unset: agencies cannot edit records (503)")
        try:
            yield
        finally:
            await app.state.catalog_admin.aclose()

    router = APIRouter(prefix="/api/agency/services", lifespan=lifespan)

    @router.get("")
    async def records(catalog: Catalog, agency: Agency) -> dict[str, Any]:
        """Beyond the spec: the records the account may edit; `review_due` flags a record whose
        `updated` is older than its `review_days`."""
        return {"services": await _ask(catalog.records(agency))}

    @router.get("/{service_id}")
    async def record(service_id: str, catalog: Catalog, agency: Agency) -> dict[str, Any]:
        """Beyond the spec: the live record, for the agency's edit page."""
        document = await _ask(catalog.record(service_id))
        if agency is not None and (document.get("competent_authority") or {}).get("id") != agency:
            raise HTTPException(403, NOT_YOURS)
        return document

    @router.patch("/{service_id}", response_model=None)
    async def edit(
        service_id: str, request: Request, user: Editor, agency: Agency, catalog: Catalog, pool: StaffDb
    ) -> dict[str, Any] | JSONResponse:
        # Read by hand: a body that is not an object gets the spec's error shape, not FastAPI's.
        try:
            fields = json.loads(await request.body())
        except ValueError:
            fields = None
        if not isinstance(fields, dict):
            return _errors([{"field": "(record)", "message": NOT_AN_OBJECT}])
        try:
            change = await _ask(catalog.edit(service_id, user.username, fields, agency))
        except RecordInvalid as exc:
            return _errors(exc.errors)
        await audit.record(
            pool, user.username, "record_edit", service_id,
            {"version": change["version"], "changed": change["changed"]},
        )
        return change["record"]

    @router.get("/{service_id}/history")
    async def history(service_id: str, catalog: Catalog, agency: Agency) -> dict[str, Any]:
        """Oldest first; beyond the spec each version also carries `before` and `after` (the
        changed fields' values) and `restored_from`."""
        return {"versions": await _ask(catalog.history(service_id, agency))}

    @router.post("/{service_id}/history/{version}/restore", response_model=None)
    async def restore(
        service_id: str, version: int, user: Editor, agency: Agency, catalog: Catalog, pool: StaffDb
    ) -> dict[str, Any] | JSONResponse:
        try:
            change = await _ask(catalog.restore(service_id, version, user.username, agency))
        except RecordInvalid as exc:
            return _errors(exc.errors)
        await audit.record(
            pool, user.username, "record_restore", service_id,
            {"version": change["version"], "restored_from": version, "changed": change["changed"]},
        )
        return change["record"]

    return router
