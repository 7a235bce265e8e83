"""HTTP routes of the catalog service."""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from catalog import __version__
from catalog.store import CatalogStore


class UTF8JSONResponse(JSONResponse):
    # Starlette already writes Thai unescaped; the explicit charset keeps older clients from guessing.
    media_type = "application/json; charset=utf-8"


def create_app(store: CatalogStore) -> FastAPI:
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
    def get_service(service_id: str) -> dict[str, Any]:
        record = store.get(service_id)
        if record is None:
            raise HTTPException(status_code=404, detail=f"no service with id '{service_id}'")
        return record

    return app
