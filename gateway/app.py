"""FastAPI wiring: the LINE webhook, the web chat and a health check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway import __version__
from gateway.config import Settings
from gateway.line.webhook import LineChannel, line_router
from gateway.rasa_client import RasaClient
from gateway.web.routes import web_router
from privacy import masked_logger

log = masked_logger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rasa = RasaClient(settings.rasa_url, timeout=settings.rasa_timeout)
        app.state.rasa = rasa
        app.state.line = LineChannel(settings, rasa) if settings.line_enabled else None
        if app.state.line is None:
            log.warning("LINE channel not configured (LINE_CHANNEL_SECRET / LINE_CHANNEL_ACCESS_TOKEN unset)")
        try:
            yield
        finally:
            if app.state.line is not None:
                await app.state.line.aclose()
            await rasa.aclose()

    app = FastAPI(
        title="Thai e-services assistant gateway",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.line = None
    app.include_router(line_router())
    app.include_router(web_router(settings.web_allowed_origins))

    @app.get("/health")
    async def health() -> dict[str, object]:
        return {"status": "ok", "version": __version__, "line_configured": settings.line_enabled}

    return app
