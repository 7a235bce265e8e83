"""Candidate models: agencies' example questions (and FAQ entries) trained, gated, deployed in the background.

    candidate_id = await start_candidate(pool, user, examples=[{"service_id", "topic", "text"}, ...],
                                         faq_entries=[{"id", "service", "topic", "question", ...}, ...])

queues a candidate (staff/candidates/store.py); the worker (`python -m staff.candidates.worker`,
the stack's `trainer`) trains it and runs the gate (gate.py); the agency deploys it
(deploy.py, staff/models.py). docs/agency.md tells the whole story.

This package is also imported in Rasa's environment (rasa_side.py), which has no psycopg: nothing
here imports more than the standard library at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

    from staff.auth import StaffUser


async def start_candidate(
    pool: AsyncConnectionPool,
    user: StaffUser,
    examples: list[dict[str, str]] | None = None,
    faq_entries: list[dict[str, Any]] | None = None,
    agency: str | None = None,
) -> str:
    """Queue a candidate model with these examples and FAQ entries; its id (status `queued`)."""
    from staff.candidates.store import start_candidate as start

    return await start(pool, user, examples=examples, faq_entries=faq_entries, agency=agency)
