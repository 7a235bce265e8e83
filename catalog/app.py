"""HTTP routes of the catalog service.

The public routes are read-only. `/admin/...` writes (an agency's edits, their history, a
restore) and is for the gateway alone, which checks who may edit what: every call carries
`Authorization: Bearer <CATALOG_ADMIN_TOKEN>`, and without a token configured it is off.
"""

from __future__ import annotations

import hmac
import os
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError

from catalog import __version__
from catalog.faq import faq_router
from catalog.models import RecordInvalid
from catalog.store import CatalogStore, Change, NotTheAgencys, RecordNotFound, etag_of


class UTF8JSONResponse(JSONResponse):
    # Starlette already writes Thai unescaped; the explicit charset keeps older clients from guessing.
    media_type = "application/json; charset=utf-8"


# Who edits, as the gateway names them (a staff username), and on behalf of which agency.
Username = Annotated[str, Field(min_length=1, max_length=100)]
AgencyCode = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]


class EditBody(BaseModel):
    by: Username
    fields: dict[str, Any]
    # Set for an agency account: the record must be this agency's, before and after the edit.
    agency: AgencyCode | None = None


class RestoreBody(BaseModel):
    by: Username
    agency: AgencyCode | None = None


def _matches(if_none_match: str, etag: str) -> bool:
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _record_response(document: dict[str, Any], status_code: int = 200) -> UTF8JSONResponse:
    # no-cache: any cache between here and the actions must ask again each time (with the ETag).
    return UTF8JSONResponse(
        document, status_code=status_code, headers={"ETag": etag_of(document), "Cache-Control": "no-cache"}
    )


def _change_response(change: Change) -> UTF8JSONResponse:
    body = {"record": change.record, "version": change.version, "changed": change.changed}
    if change.restored_from is not None:
        body["restored_from"] = change.restored_from
    return UTF8JSONResponse(body, headers={"ETag": etag_of(change.record)})


def create_app(store: CatalogStore, admin_token: str | None = None) -> FastAPI:
    admin_token = os.environ.get("CATALOG_ADMIN_TOKEN", "") if admin_token is None else admin_token

    def require_admin(authorization: Annotated[str, Header()] = "") -> None:
        if not admin_token:
            raise HTTPException(503, "the admin API is off: CATALOG_ADMIN_TOKEN is not set")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), admin_token.encode()):
            raise HTTPException(401, "admin token required", headers={"WWW-Authenticate": "Bearer"})

    admin = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)], include_in_schema=False)

    app = FastAPI(
        title="Thai public e-services catalog",
        version=__version__,
        description="One record per public service, shaped after CPSV-AP and the Thai citizen guides.",
        default_response_class=UTF8JSONResponse,
    )

    @app.get("/")
    def metadata() -> dict[str, Any]:
        return {
            "name": "Thai public e-services catalog",
            "name_th": "บัญชีบริการภาครัฐสำหรับประชาชน",
            "publisher": os.environ.get(
                "CATALOG_PUBLISHER", "Thai e-services assistant (open source project)"
            ),
            "version": __version__,
            "record_format": "docs/catalog-record.md",
            "docs": "/docs",
        }

    @app.get("/health")
    def health() -> Any:
        try:
            return {"status": "ok", "services": store.count()}
        except SQLAlchemyError:
            return UTF8JSONResponse({"status": "error", "detail": "database unavailable"}, status_code=503)

    @app.get("/services")
    def list_services(
        q: str = Query("", description="Thai or English name, synonym or words of the description"),
        category: str = Query("", description="welfare, license, registration or tax"),
        agency: str = Query("", description="part of the competent authority's Thai name"),
        limit: int = Query(50, ge=1, le=200),
    ) -> dict[str, Any]:
        result = store.search(q=q, category=category, agency=agency, limit=limit)
        return {"items": result.items, "total": result.total}

    @app.get("/services/{service_id}")
    def get_service(
        service_id: str, if_none_match: Annotated[str, Header()] = ""
    ) -> Any:
        """The live record, with an ETag: a client holding a copy sends it as If-None-Match and
        gets 304 while the record is unchanged."""
        record = store.get(service_id)
        if record is None:
            raise HTTPException(status_code=404, detail=f"no service with id '{service_id}'")
        etag = etag_of(record)
        if if_none_match and _matches(if_none_match, etag):
            return Response(status_code=304, headers={"ETag": etag, "Cache-Control": "no-cache"})
        return _record_response(record)

    # -- admin: for the gateway's agency API (docs/agency.md) -----------------------------------------
    @admin.get("/services")
    def admin_records(agency: AgencyCode | None = None) -> dict[str, Any]:
        return {"items": store.records(agency=agency)}

    @admin.patch("/services/{service_id}")
    def admin_edit(service_id: str, body: EditBody) -> Any:
        try:
            return _change_response(store.edit(service_id, body.by, body.fields, agency=body.agency))
        except RecordInvalid as exc:
            return UTF8JSONResponse({"errors": exc.errors}, status_code=422)

    @admin.get("/services/{service_id}/history")
    def admin_history(service_id: str, agency: AgencyCode | None = None) -> dict[str, Any]:
        return {"versions": store.history(service_id, agency=agency)}

    @admin.post("/services/{service_id}/history/{version}/restore")
    def admin_restore(service_id: str, version: int, body: RestoreBody) -> Any:
        try:
            return _change_response(store.restore(service_id, version, body.by, agency=body.agency))
        except RecordInvalid as exc:
            return UTF8JSONResponse({"errors": exc.errors}, status_code=422)

    app.include_router(admin)
    app.include_router(faq_router(store, admin_token))

    @app.exception_handler(RecordNotFound)
    def not_found(_: Request, exc: RecordNotFound) -> UTF8JSONResponse:
        return UTF8JSONResponse({"detail": f"not found: {exc}"}, status_code=404)

    @app.exception_handler(NotTheAgencys)
    def not_theirs(_: Request, exc: NotTheAgencys) -> UTF8JSONResponse:
        return UTF8JSONResponse({"detail": f"'{exc}' is another agency's record"}, status_code=403)

    return app
