"""The catalog client the custom actions use: one HTTP session, retries, a short cache.

Catalogs are listed in catalogs.yml (or the file CATALOGS_FILE names), so an
agency that publishes its own catalog is added by configuration. A record is served
from a cache for `cache_ttl_seconds`; when every catalog that may hold it is down,
the last good copy up to `stale_ttl_seconds` old is served instead of nothing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

logger = logging.getLogger(__name__)

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "catalogs.yml"


class CatalogUnavailable(Exception):
    """No catalog that may hold the service answered, and no good copy is cached."""


class ServiceNotFound(Exception):
    """The catalogs answered, and none has the service."""


@dataclass(frozen=True)
class Catalog:
    name: str
    url: str
    services: tuple[str, ...] | None  # None: every service

    def may_hold(self, service_id: str) -> bool:
        return self.services is None or service_id in self.services


@dataclass
class CatalogClient:
    catalogs: list[Catalog]
    cache_ttl: float = 300.0
    stale_ttl: float = 86400.0
    timeout: float = 3.0
    retries: int = 2
    _cache: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.session = requests.Session()
        retry = Retry(
            total=self.retries,
            backoff_factor=0.2,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"GET"}),
        )
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        self.session.headers["Accept"] = "application/json"

    @classmethod
    def from_config(cls, path: str | Path | None = None) -> CatalogClient:
        path = Path(path or os.environ.get("CATALOGS_FILE") or DEFAULT_CONFIG)
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        catalogs = [
            Catalog(
                name=c["name"],
                url=c["url"].rstrip("/"),
                services=None if c.get("services", "*") == "*" else tuple(c["services"]),
            )
            for c in config["catalogs"]
        ]
        if os.environ.get("CATALOG_URL") and catalogs:
            first = catalogs[0]
            catalogs[0] = Catalog(first.name, os.environ["CATALOG_URL"].rstrip("/"), first.services)
        return cls(
            catalogs=catalogs,
            cache_ttl=float(config.get("cache_ttl_seconds", 300)),
            stale_ttl=float(config.get("stale_ttl_seconds", 86400)),
            timeout=float(config.get("timeout_seconds", 3)),
            retries=int(config.get("retries", 2)),
        )

    def service(self, service_id: str) -> tuple[dict[str, Any], Catalog]:
        """The record of a service and the catalog it came from."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(service_id)
        if cached and now - cached[0] < self.cache_ttl:
            return cached[1]["record"], cached[1]["catalog"]
        failures = []
        for catalog in self.catalogs:
            if not catalog.may_hold(service_id):
                continue
            try:
                response = self.session.get(f"{catalog.url}/services/{service_id}", timeout=self.timeout)
            except requests.RequestException as error:
                failures.append(f"{catalog.name}: {type(error).__name__}")
                continue
            if response.status_code == 404:
                continue
            if not response.ok:
                failures.append(f"{catalog.name}: HTTP {response.status_code}")
                continue
            record = response.json()
            with self._lock:
                self._cache[service_id] = (now, {"record": record, "catalog": catalog})
            return record, catalog
        if cached and now - cached[0] < self.stale_ttl:
            logger.warning("catalogs down (%s); serving the copy of %s cached %.0fs ago",
                           "; ".join(failures), service_id, now - cached[0])
            return cached[1]["record"], cached[1]["catalog"]
        if failures:
            logger.error("no catalog answered for %s: %s", service_id, "; ".join(failures))
            raise CatalogUnavailable("; ".join(failures))
        raise ServiceNotFound(service_id)
