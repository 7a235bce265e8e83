"""The agency's example questions and candidate models (../shared/spec/staff-api.md, "Agency API").

- `POST /api/agency/examples` `{"service_id", "topic", "texts"}` -> `202 {"candidate": id}`
- `GET /api/agency/candidates` -> `{"candidates": [...]}`, newest first (an agency's own; admin all)
- `GET /api/agency/candidates/{id}` -> status, progress, report (and what the pages show)
- `POST /api/agency/candidates/{id}/deploy` -> `200` once every Rasa process serves it; `409` unless
  the candidate passed (or is deployed)

Roles agency and admin; an agency account only for the services whose catalog record names its
code as `competent_authority.id` (read from the catalog, CATALOG_URL), and only its own candidates.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from contract.replies import TOPICS
from staff import audit
from staff.auth import ADMIN, AGENCY, StaffDb, StaffUser, require_roles
from staff.candidates.deploy import DeployRefused, DeployTimeout, RasaTarget, deploy_candidate
from staff.candidates.store import (
    MAX_TEXT_CHARS,
    candidate_json,
    ensure_schema,
    get_candidate,
    list_candidates,
    start_candidate,
)
from staff.models import live_model

MAX_TEXTS = 50
MIN_TEXT_CHARS = 3
DEFAULT_CATALOG_URL = "http://127.0.0.1:8001"
AgencyUser = Annotated[StaffUser, Depends(require_roles(AGENCY, ADMIN))]


def _errors(*errors: tuple[str, str]) -> JSONResponse:
    return JSONResponse({"errors": [{"field": f, "message": m} for f, m in errors]}, status_code=422)


async def _record(request: Request, service_id: str) -> dict[str, Any] | None:
    client: httpx.AsyncClient = request.app.state.candidates_catalog
    try:
        response = await client.get(f"/services/{service_id}")
    except httpx.HTTPError as exc:
        raise HTTPException(503, "แคตตาล็อกบริการไม่ตอบ ลองใหม่อีกครั้งค่ะ") from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise HTTPException(503, "แคตตาล็อกบริการไม่ตอบ ลองใหม่อีกครั้งค่ะ")
    return response.json()


def agency_of(record: dict[str, Any]) -> str | None:
    return (record.get("competent_authority") or {}).get("id")


def _may_see(user: StaffUser, row: dict[str, Any]) -> bool:
    return user.role == ADMIN or (user.agency is not None and row.get("agency") == user.agency)


async def _live_model_id() -> str | None:
    try:
        return (await asyncio.to_thread(live_model)).model_id
    except (OSError, ValueError):
        return None


def candidates_router() -> APIRouter:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # No staff database (gateway/staff_off.py: the staff side is off, its paths answer 503).
        if app.state.staff_db is not None:
            await ensure_schema(app.state.staff_db)
        catalog = (os.environ.get("CATALOG_URL") or DEFAULT_CATALOG_URL).rstrip("/")
        app.state.candidates_catalog = httpx.AsyncClient(base_url=catalog, timeout=10.0)
        try:
            yield
        finally:
            await app.state.candidates_catalog.aclose()

    router = APIRouter(lifespan=lifespan)

    @router.post("/api/agency/examples", status_code=202)
    async def add_examples(request: Request, user: AgencyUser, pool: StaffDb) -> Any:
        try:
            body = await request.json()
        except ValueError:
            return _errors(("body", "ต้องเป็น JSON"))
        if not isinstance(body, dict):
            return _errors(("body", "ต้องเป็น JSON object"))
        service_id, topic, texts = body.get("service_id"), body.get("topic"), body.get("texts")
        errors = []
        if not isinstance(service_id, str) or not service_id.strip():
            errors.append(("service_id", "ระบุรหัสบริการ"))
        if topic not in TOPICS:
            errors.append(("topic", "หัวข้อต้องเป็นหนึ่งใน " + ", ".join(TOPICS)))
        if not isinstance(texts, list) or not texts:
            errors.append(("texts", "ใส่ตัวอย่างคำถามอย่างน้อยหนึ่งข้อ"))
        elif len(texts) > MAX_TEXTS:
            errors.append(("texts", f"ได้ไม่เกิน {MAX_TEXTS} ข้อต่อครั้ง"))
        else:
            for n, text in enumerate(texts):
                cleaned = " ".join(text.split()) if isinstance(text, str) else ""
                if not MIN_TEXT_CHARS <= len(cleaned) <= MAX_TEXT_CHARS:
                    errors.append((f"texts[{n}]", f"คำถามยาว {MIN_TEXT_CHARS}-{MAX_TEXT_CHARS} ตัวอักษร"))
        if errors:
            return _errors(*errors)
        record = await _record(request, service_id)
        if record is None:
            return _errors(("service_id", "ไม่พบบริการนี้ในแคตตาล็อก"))
        owner = agency_of(record)
        if user.role == AGENCY and owner != user.agency:
            raise HTTPException(403, "บริการนี้เป็นของหน่วยงานอื่น")
        examples = [{"service_id": service_id, "topic": topic, "text": t} for t in texts]
        candidate_id = await start_candidate(pool, user, examples=examples, agency=owner or user.agency)
        await audit.record(pool, user.username, "candidate_examples", service_id,
                           {"candidate": candidate_id, "topic": topic, "texts": len(texts)})
        return {"candidate": candidate_id}

    @router.get("/api/agency/candidates")
    async def candidates(user: AgencyUser, pool: StaffDb) -> dict[str, Any]:
        rows = await list_candidates(pool, None if user.role == ADMIN else user.agency or "")
        live = await _live_model_id()
        return {
            "candidates": [
                {
                    "id": r["id"], "status": r["status"], "progress": round(float(r["progress"]), 3),
                    "step": r["step"], "agency": r["agency"], "created_by": r["created_by"],
                    "created_at": r["created_at"].isoformat(), "services": list(r["services"]),
                    "examples": r["examples"], "model_id": r["model_id"],
                    "live": bool(r["model_id"]) and r["model_id"] == live,
                }
                for r in rows
            ]
        }

    @router.get("/api/agency/candidates/{candidate_id}")
    async def candidate(candidate_id: str, user: AgencyUser, pool: StaffDb) -> dict[str, Any]:
        row = await get_candidate(pool, candidate_id)
        if row is None:
            raise HTTPException(404, "ไม่พบโมเดลทดลองนี้")
        if not _may_see(user, row):
            raise HTTPException(403, "โมเดลทดลองนี้เป็นของหน่วยงานอื่น")
        return candidate_json(row, await _live_model_id())

    @router.post("/api/agency/candidates/{candidate_id}/deploy")
    async def deploy(candidate_id: str, request: Request, user: AgencyUser, pool: StaffDb) -> dict[str, Any]:
        row = await get_candidate(pool, candidate_id)
        if row is None:
            raise HTTPException(404, "ไม่พบโมเดลทดลองนี้")
        if not _may_see(user, row):
            raise HTTPException(403, "โมเดลทดลองนี้เป็นของหน่วยงานอื่น")
        settings = request.app.state.settings
        target = RasaTarget.from_env(settings.rasa_url, settings.rasa_token)
        try:
            result = await deploy_candidate(pool, candidate_id, user.username, target)
        except DeployRefused as exc:
            raise HTTPException(409, str(exc)) from exc
        except DeployTimeout as exc:
            await audit.record(pool, user.username, "candidate_deploy", candidate_id, {"error": str(exc)})
            raise HTTPException(504, str(exc)) from exc
        await audit.record(pool, user.username, "candidate_deploy", candidate_id,
                           {"model_id": result["model_id"], "seconds": result["seconds"]})
        return result

    return router
