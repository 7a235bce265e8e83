"""Deploying a candidate that passed: switch the live model, then wait until every Rasa process serves it.

The switch is staff/models.py's (current.json replaced at once); the model server then hands the
new model to one Rasa worker at a time while the others answer. It is done when
1. the model server has seen every worker that polls come back with the new model, none still
   polling with an old one, and nobody loading (GET /models/rollout `complete`), and
2. Rasa's GET /status, asked CONSECUTIVE times on fresh connections (so that the workers take
   turns answering), reports the new model_id every time.
One deploy at a time (a PostgreSQL advisory lock), across every gateway process.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from psycopg_pool import AsyncConnectionPool

from staff.candidates.store import DEPLOY_LOCK, get_candidate, record_deployment
from staff.models import LiveModel, live_model, switch

# Answers of GET /status in a row that must all show the new model.
CONSECUTIVE = 8
DEFAULT_TIMEOUT = 300.0
DEFAULT_MODEL_SERVER_URL = "http://127.0.0.1:5006/models/current"


class DeployRefused(Exception):
    """409: the candidate may not go live (not passed, or trained against another live model)."""


class DeployTimeout(Exception):
    """The switch is made but not every Rasa process serves the model yet."""


@dataclass(frozen=True)
class RasaTarget:
    rasa_url: str
    rasa_token: str
    model_server_url: str

    @classmethod
    def from_env(cls, rasa_url: str, rasa_token: str) -> RasaTarget:
        return cls(rasa_url.rstrip("/"), rasa_token,
                   (os.environ.get("MODEL_SERVER_URL") or DEFAULT_MODEL_SERVER_URL).rstrip("/"))

    @property
    def rollout_url(self) -> str:
        return self.model_server_url.rsplit("/", 1)[0] + "/rollout"


async def rasa_model_id(target: RasaTarget) -> str | None:
    """The model of whichever Rasa worker answers, on a connection of its own."""
    params = {"token": target.rasa_token} if target.rasa_token else None
    async with httpx.AsyncClient(timeout=5.0) as client:
        response = await client.get(f"{target.rasa_url}/status", params=params,
                                    headers={"Connection": "close"})
    return response.json().get("model_id") if response.status_code == 200 else None


async def wait_until_served(target: RasaTarget, model_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    rollout: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                rollout = (await client.get(target.rollout_url)).json()
        except (httpx.HTTPError, ValueError):
            rollout = {}
        if rollout.get("complete") and rollout.get("model_id") == model_id:
            seen = []
            for _ in range(CONSECUTIVE):
                try:
                    seen.append(await rasa_model_id(target))
                except (httpx.HTTPError, ValueError):
                    seen.append(None)
                if seen[-1] != model_id:
                    break
            if len(seen) == CONSECUTIVE and all(s == model_id for s in seen):
                return {**rollout, "status_checks": CONSECUTIVE}
        await asyncio.sleep(1.0)
    raise DeployTimeout(
        f"not every Rasa process serves {model_id} after {timeout:.0f}s "
        f"(updated {rollout.get('updated')}, waiting {rollout.get('waiting')}, "
        f"loading {rollout.get('loading')})"
    )


async def deploy_candidate(
    pool: AsyncConnectionPool, candidate_id: str, username: str, target: RasaTarget,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """Make a passed candidate live; returns once every Rasa process serves it (also when it already did)."""
    row = await get_candidate(pool, candidate_id)
    if row is None:
        raise KeyError(candidate_id)
    if row["status"] not in ("passed", "deployed") or not row.get("model_path"):
        raise DeployRefused(f"the candidate is {row['status']}: only a passed candidate can be deployed")
    async with pool.connection() as lock_conn:
        # A session lock on a connection of its own, held while the rollout runs.
        await lock_conn.execute("SELECT pg_advisory_lock(%s)", (DEPLOY_LOCK,))
        try:
            live: LiveModel = await asyncio.to_thread(live_model)
            if live.model_id != row["model_id"]:
                if row["status"] == "deployed" or row["base_model_id"] != live.model_id:
                    raise DeployRefused(
                        "the live model has changed since this candidate was trained and tested; "
                        "submit its examples again to get a candidate for the model live now"
                    )
                live = await asyncio.to_thread(
                    switch, Path(row["model_path"]), candidate=candidate_id, deployed_by=username,
                    data_dir=Path(row["data_dir"]),
                )
            started = time.monotonic()
            rollout = await wait_until_served(target, row["model_id"], timeout)
            if row["status"] != "deployed":
                await record_deployment(pool, candidate_id, username)
        finally:
            await lock_conn.execute("SELECT pg_advisory_unlock(%s)", (DEPLOY_LOCK,))
    return {
        "candidate": candidate_id,
        "status": "deployed",
        "model_id": live.model_id,
        "seconds": round(time.monotonic() - started, 1),
        "rollout": rollout,
    }
