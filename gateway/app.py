"""FastAPI wiring: the LINE webhook, the web chat, the staff side (docs/staff.md) and a health check."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway import __version__
from gateway.body_limit import BodyLimit
from gateway.config import Settings
from gateway.conversations import Conversations
from gateway.errors import install as install_error_handlers
from gateway.line.recipients import LineRecipients
from gateway.line.webhook import LineChannel, line_router
from gateway.rasa_client import RasaClient
from gateway.staff_off import StaffOff, open_staff_side
from gateway.web.routes import web_router
from privacy import masked_logger
from staff.api.agency import agency_router
from staff.api.agent import agent_router
from staff.api.analytics import analytics_router
from staff.api.assist import assist_router
from staff.api.auth import auth_router
from staff.api.candidates import candidates_router
from staff.api.faq import faq_router
from staff.api.pages import pages_router
from staff.events import EventBus
from staff.handoff import HandoffDesk
from staff.hours import OfficeHours

log = masked_logger(__name__)

# Agents' messages to LINE users that could not be pushed at once are tried again this often.
LINE_REDELIVERY_SECONDS = 5.0


async def _redeliver_line(app: FastAPI) -> None:
    while True:
        await asyncio.sleep(LINE_REDELIVERY_SECONDS)
        try:
            await app.state.line.deliver_agent_messages(app.state.desk)
        except Exception:
            log.exception("pushing agents' messages to LINE failed; trying again")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hours = OfficeHours.load(settings.office_hours_file)
        rasa = RasaClient(
            settings.rasa_url,
            timeout=settings.rasa_timeout,
            token=settings.rasa_token,
            rest_token=settings.rest_token,
        )
        app.state.rasa = rasa
        # Without its PostgreSQL or Redis the staff side is off; the chat answers (gateway/staff_off.py).
        app.state.staff_db, redis, app.state.staff_off = await open_staff_side(settings)
        app.state.bus = EventBus(redis) if redis is not None else None
        app.state.desk = HandoffDesk(app.state.staff_db, app.state.bus) if app.state.staff_db else None
        app.state.conversations = Conversations(rasa, app.state.desk, hours)
        app.state.line = None
        if settings.line_enabled:
            recipients = LineRecipients(app.state.staff_db, settings.pii_key)
            app.state.line = LineChannel(settings, app.state.conversations, recipients)
        redelivery = None
        if app.state.line is None:
            log.warning(
                "LINE channel not configured (LINE_CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN, PII_KEY)"
            )
        elif app.state.desk is not None:
            redelivery = asyncio.create_task(_redeliver_line(app))
        try:
            yield
        finally:
            if redelivery is not None:
                redelivery.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await redelivery
            if app.state.line is not None:
                await app.state.line.aclose()
            if redis is not None:
                await redis.aclose()
            if app.state.staff_db is not None:
                await app.state.staff_db.close()
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
    # Bodies over a few kilobytes (the web chat) or a megabyte (LINE) are refused before they are read.
    app.add_middleware(BodyLimit)
    app.add_middleware(StaffOff)
    install_error_handlers(app)
    app.include_router(line_router())
    app.include_router(web_router(settings.web_allowed_origins))
    app.include_router(auth_router())
    app.include_router(agent_router())
    app.include_router(assist_router())
    app.include_router(agency_router())
    app.include_router(analytics_router())
    app.include_router(candidates_router())
    app.include_router(faq_router())
    app.include_router(pages_router())

    @app.get("/health")
    async def health() -> dict[str, object]:
        return {"status": "ok", "version": __version__, "line_configured": settings.line_enabled}

    return app
