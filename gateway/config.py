"""Gateway settings, read from the environment (and a `.env` file, if there is one)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from dotenv import find_dotenv, load_dotenv

DEFAULT_RASA_URL = "http://localhost:5005"
DEFAULT_LINE_API_BASE_URL = "https://api.line.me"
# Port wildcards are valid CSP source expressions and are matched the same way for CORS.
DEFAULT_WEB_ALLOWED_ORIGINS = ("http://localhost:*", "http://127.0.0.1:*")
# The staff side's database and the Redis that fans its live events out to every gateway process.
DEFAULT_STAFF_DB_URL = "postgresql://postgres@127.0.0.1:5432/staff"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/2"
# The action server's webhook (the same variable as endpoints.yml): agent assist calls it directly.
DEFAULT_ACTIONS_URL = "http://127.0.0.1:5055/webhook"
# The catalog, whose admin API takes agencies' edits (staff/catalog_admin.py).
DEFAULT_CATALOG_URL = "http://127.0.0.1:8001"
# Rate limits in the `limits` library's notation ("20/minute", several joined by ";"). One citizen
# types a few messages a minute; an address is shared by many citizens behind a mobile network's NAT.
DEFAULT_RATE_LIMIT_SENDER = "20/minute"
DEFAULT_RATE_LIMIT_CLIENT = "300/minute"


def _split_list(raw: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return default
    return tuple(item.strip().rstrip("/") for item in raw.split(",") if item.strip())


def _float(raw: str | None, default: float) -> float:
    try:
        return float(raw) if raw else default
    except ValueError:
        return default


@dataclass(frozen=True)
class Settings:
    rasa_url: str = DEFAULT_RASA_URL
    rasa_timeout: float = 10.0
    line_channel_secret: str = ""
    line_channel_access_token: str = ""
    line_api_base_url: str = DEFAULT_LINE_API_BASE_URL
    web_allowed_origins: tuple[str, ...] = field(default=DEFAULT_WEB_ALLOWED_ORIGINS)
    staff_db_url: str = DEFAULT_STAFF_DB_URL
    redis_url: str = DEFAULT_REDIS_URL
    # Rasa's HTTP API token (rasa run --enable-api --auth-token): the handoff's pause and
    # resume events, the tracker's summary and the agent assist's parse.
    rasa_token: str = ""
    # Rasa's REST channel token (REST_TOKEN; scripts/stack keeps the one in use in run/rest-token).
    rest_token: str = ""
    # Per web sender / LINE user, and per client address of the web chat (gateway/ratelimit.py).
    rate_limit_sender: str = DEFAULT_RATE_LIMIT_SENDER
    rate_limit_client: str = DEFAULT_RATE_LIMIT_CLIENT
    actions_url: str = DEFAULT_ACTIONS_URL
    # Staff sign-in tokens last this long.
    token_ttl_minutes: float = 480.0
    # YAML of the desk's office hours and public holidays; empty means staffed at all hours.
    office_hours_file: str = ""
    # The secret LINE ids are hashed and sealed under (gateway/line/recipients.py); scripts/stack
    # makes one per run folder. LINE stays off without it: ids must not be stored as they are.
    pii_key: str = ""
    # The catalog and its admin API token (scripts/stack gives both the same); no token, no edits.
    catalog_url: str = DEFAULT_CATALOG_URL
    catalog_admin_token: str = ""

    @property
    def line_enabled(self) -> bool:
        return bool(self.line_channel_secret and self.line_channel_access_token and self.pii_key)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, *, dotenv: bool = True) -> Settings:
        if env is None:
            if dotenv:
                # `.env` from the working directory up; the real environment wins over the file.
                load_dotenv(find_dotenv(usecwd=True), override=False)
            env = dict(os.environ)
        return cls(
            rasa_url=(env.get("RASA_URL") or DEFAULT_RASA_URL).rstrip("/"),
            rasa_timeout=_float(env.get("RASA_TIMEOUT"), 10.0),
            line_channel_secret=env.get("LINE_CHANNEL_SECRET", "").strip(),
            line_channel_access_token=env.get("LINE_CHANNEL_ACCESS_TOKEN", "").strip(),
            line_api_base_url=(env.get("LINE_API_BASE_URL") or DEFAULT_LINE_API_BASE_URL).rstrip("/"),
            web_allowed_origins=_split_list(env.get("WEB_ALLOWED_ORIGINS"), DEFAULT_WEB_ALLOWED_ORIGINS),
            staff_db_url=env.get("STAFF_DB_URL") or DEFAULT_STAFF_DB_URL,
            redis_url=env.get("REDIS_URL") or DEFAULT_REDIS_URL,
            rasa_token=env.get("RASA_TOKEN", "").strip(),
            rest_token=env.get("REST_TOKEN", "").strip(),
            rate_limit_sender=(env.get("RATE_LIMIT_SENDER") or DEFAULT_RATE_LIMIT_SENDER).strip(),
            rate_limit_client=(env.get("RATE_LIMIT_CLIENT") or DEFAULT_RATE_LIMIT_CLIENT).strip(),
            actions_url=(env.get("ACTION_ENDPOINT_URL") or DEFAULT_ACTIONS_URL).strip(),
            token_ttl_minutes=_float(env.get("STAFF_TOKEN_TTL_MINUTES"), 480.0),
            office_hours_file=env.get("OFFICE_HOURS_FILE", "").strip(),
            pii_key=env.get("PII_KEY", "").strip(),
            catalog_url=(env.get("CATALOG_URL") or DEFAULT_CATALOG_URL).rstrip("/"),
            catalog_admin_token=env.get("CATALOG_ADMIN_TOKEN", "").strip(),
        )
