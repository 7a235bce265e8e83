"""The agent console's page and assets: `GET /agent/` and `/agent/static/{name}` (docs/staff.md).

The page is static; everything it shows comes from the JSON API with the agent's token. It
gets the web chat's headers, with a policy that lets no other origin frame it: a staff page
has no business inside an agency's site.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from contract.replies import TOPIC_LABELS
from gateway.web.routes import content_security_policy

STATIC_DIR = Path(__file__).resolve().parents[1] / "static" / "agent"
# Only these files are served: a name from the URL never becomes a path on its own.
ASSETS = {"agent.js": "text/javascript", "agent.css": "text/css"}
# What index.html's {{name}} placeholders stand for. The topics' Thai labels are the contract's,
# so the page reads them from <body data-topics> instead of keeping a copy.
PAGE_VALUES = {"topics": json.dumps(TOPIC_LABELS, ensure_ascii=False)}
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def render_page() -> str:
    template = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    return PLACEHOLDER.sub(lambda m: html.escape(PAGE_VALUES[m.group(1)], quote=True), template)


def pages_router() -> APIRouter:
    router = APIRouter()
    page_headers = {
        "Content-Security-Policy": content_security_policy(()),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Cache-Control": "no-cache",
    }
    page_html = render_page()

    @router.api_route("/agent", methods=["GET", "HEAD"], include_in_schema=False)
    async def page_without_slash() -> RedirectResponse:
        # The assets are relative to /agent/, so the page lives only there.
        return RedirectResponse("/agent/", status_code=308)

    @router.api_route("/agent/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(page_html, headers=page_headers)

    @router.get("/agent/static/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in ASSETS:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        return FileResponse(
            STATIC_DIR / name,
            media_type=f"{ASSETS[name]}; charset=utf-8",
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
        )

    return router
