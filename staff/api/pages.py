"""The staff pages and their assets (docs/staff.md, docs/agency.md):

- `GET /agent/` the agent console, `/agent/static/{name}`;
- `GET /agency/` the agency portal, `/agency/static/{name}`;
- `GET /dashboard/` the dashboard, `/dashboard/static/{name}`;
- `/staff/static/{name}` what they share: staff.js (sign-in, the API with the token, the SSE
  reader), staff.css, and Chart.js (shipped with the page, never from a CDN); and, put into each
  page rather than served, the <head> lines they have alike (common/head.html) and the sign-in
  fields (common/signin.html).

The pages are static; everything they show comes from the JSON API with the account's token. They
get the web chat's headers, with a policy that lets no other origin frame them: a staff page has no
business inside an agency's site.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from contract.replies import TOPIC_LABELS
from gateway.web.routes import content_security_policy

STATIC_ROOT = Path(__file__).resolve().parents[1] / "static"
STATIC_DIR = STATIC_ROOT / "agent"
SEED_DIR = Path(__file__).resolve().parents[2] / "catalog" / "seed"
JS, CSS = "text/javascript", "text/css"
# Only these files are served: a name from the URL never becomes a path on its own.
PAGES: dict[str, dict[str, str]] = {
    "agent": {"agent.js": JS, "agent.css": CSS},
    "agency": {"agency.js": JS, "agency.css": CSS},
    "dashboard": {"dashboard.js": JS, "dashboard.css": CSS},
}
ASSETS = PAGES["agent"]
SHARED: dict[str, tuple[Path, str]] = {
    "staff.js": (STATIC_ROOT / "common" / "staff.js", JS),
    "staff.css": (STATIC_ROOT / "common" / "staff.css", CSS),
    "chart.umd.min.js": (STATIC_ROOT / "vendor" / "chart.umd.min.js", JS),
}
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# Markup the pages share, put in as it is where a page writes {{name}}: common/<name>.html.
PARTS = ("head", "signin")


def seed_services(seed_dir: Path = SEED_DIR) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """({service id: {"name", "agency"}}, {agency code: Thai name}) from the seed records.

    The dashboard names the services and agencies that analytics counts by id; a supervisor may
    not read the agency API, so the names come with the page (an edited name shows after a restart).
    """
    services: dict[str, dict[str, str]] = {}
    agencies: dict[str, str] = {}
    for path in sorted(seed_dir.glob("*.json")):
        record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        authority = record.get("competent_authority") or {}
        code = authority.get("id") or ""
        services[record["id"]] = {
            "name": (record.get("name") or {}).get("th") or record["id"],
            "agency": code,
        }
        if code:
            agencies.setdefault(code, authority.get("name_th") or code)
    return services, agencies


def page_values() -> dict[str, str]:
    """What index.html's {{name}} placeholders stand for. The topics' Thai labels are the
    contract's, so the pages read them from <body data-topics> instead of keeping a copy."""
    services, agencies = seed_services()
    return {
        "topics": json.dumps(TOPIC_LABELS, ensure_ascii=False),
        "services": json.dumps(services, ensure_ascii=False),
        "agencies": json.dumps(agencies, ensure_ascii=False),
    }


def render_page(page: str = "agent", values: dict[str, str] | None = None) -> str:
    values = page_values() if values is None else values
    template = (STATIC_ROOT / page / "index.html").read_text(encoding="utf-8")

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in PARTS:
            return (STATIC_ROOT / "common" / f"{name}.html").read_text(encoding="utf-8").strip()
        return html.escape(values[name], quote=True)

    return PLACEHOLDER.sub(fill, template)


def _asset(path: Path, media_type: str) -> FileResponse:
    return FileResponse(
        path,
        media_type=f"{media_type}; charset=utf-8",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
    )


def _not_found() -> JSONResponse:
    return JSONResponse({"detail": "Not Found"}, status_code=404)


def pages_router() -> APIRouter:
    router = APIRouter()
    page_headers = {
        "Content-Security-Policy": content_security_policy(()),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Cache-Control": "no-cache",
    }
    values = page_values()

    def add_page(page: str) -> None:
        page_html = render_page(page, values)
        assets = PAGES[page]

        async def without_slash() -> RedirectResponse:
            # The assets are relative to /<page>/, so the page lives only there.
            return RedirectResponse(f"/{page}/", status_code=308)

        async def serve() -> HTMLResponse:
            return HTMLResponse(page_html, headers=page_headers)

        async def asset(name: str) -> Response:
            if name not in assets:
                return _not_found()
            return _asset(STATIC_ROOT / page / name, assets[name])

        router.add_api_route(f"/{page}", without_slash, methods=["GET", "HEAD"], include_in_schema=False)
        router.add_api_route(f"/{page}/", serve, methods=["GET", "HEAD"], include_in_schema=False)
        router.add_api_route(f"/{page}/static/{{name}}", asset, methods=["GET"], include_in_schema=False)

    for page in PAGES:
        add_page(page)

    @router.get("/staff/static/{name}", include_in_schema=False)
    async def shared(name: str) -> Response:
        if name not in SHARED:
            return _not_found()
        path, media_type = SHARED[name]
        return _asset(path, media_type)

    return router
