"""The running stack's tokens, where scripts/stack keeps them (standard library: both environments).

REST_TOKEN (Rasa's REST channel) and RASA_TOKEN (Rasa's HTTP API) from the environment, else the
files `rest-token` and `rasa.token` of the run folder (`run_dir`, else RUN_DIR, else run/).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _stored(variable: str, name: str, run_dir: str | Path | None) -> str:
    token = os.environ.get(variable, "").strip()
    if token:
        return token
    path = Path(run_dir or os.environ.get("RUN_DIR") or ROOT / "run") / name
    return path.read_text(encoding="utf-8").strip() if path.exists() else ""


def rest_token(run_dir: str | Path | None = None) -> str:
    return _stored("REST_TOKEN", "rest-token", run_dir)


def rasa_token(run_dir: str | Path | None = None) -> str:
    return _stored("RASA_TOKEN", "rasa.token", run_dir)


def rest_headers(run_dir: str | Path | None = None) -> dict[str, str]:
    """The REST channel's Authorization header, or none when no token is to be found."""
    token = rest_token(run_dir)
    return {"Authorization": f"Bearer {token}"} if token else {}
