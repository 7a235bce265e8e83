"""The catalog client the custom actions use: one HTTP session, retries, a revalidated cache.

Catalogs are listed in catalogs.yml (or the file CATALOGS_FILE names), so an
agency that publishes its own catalog is added by configuration. A record is kept with its
ETag and asked for again on every use with `If-None-Match`: the catalog answers 304 (no
body) while the record is unchanged, and the new record at once after an agency's edit, so
the next answer uses it. When every catalog that may hold it is down, the last good copy up
to `stale_ttl_seconds` old (since a catalog last confirmed it) is served instead of nothing.
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


@dataclass(frozen=True)
class _Copy:
    """A record as a catalog last gave or confirmed it."""

    record: dict[str, Any]
    catalog: Catalog
    etag: str | None
    confirmed_at: float  # time.monotonic()


@dataclass
class CatalogClient:
    catalogs: list[Catalog]
    stale_ttl: float = 86400.0
    timeout: float = 3.0
    retries: int = 2
    _cache: dict[str, _Copy] = field(default_factory=dict)
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
            stale_ttl=float(config.get("stale_ttl_seconds", 86400)),
            timeout=float(config.get("timeout_seconds", 3)),
            retries=int(config.get("retries", 2)),
        )

    def service(self, service_id: str) -> tuple[dict[str, Any], Catalog]:
        """The record of a service and the catalog it came from, as the catalog has it now."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(service_id)
        failures = []
        for catalog in self.catalogs:
            if not catalog.may_hold(service_id):
                continue
            headers = {}
            if cached is not None and cached.catalog == catalog and cached.etag:
                headers["If-None-Match"] = cached.etag
            try:
                response = self.session.get(
                    f"{catalog.url}/services/{service_id}", headers=headers, timeout=self.timeout
                )
            except requests.RequestException as error:
                failures.append(f"{catalog.name}: {type(error).__name__}")
                continue
            if response.status_code == 304 and cached is not None and "If-None-Match" in headers:
                self._keep(service_id, cached.record, catalog, cached.etag, now)
                return cached.record, catalog
            if response.status_code == 404:
                continue
            if not response.ok or response.status_code == 304:
                failures.append(f"{catalog.name}: HTTP {response.status_code}")
                continue
            record = response.json()
            self._keep(service_id, record, catalog, response.headers.get("ETag"), now)
            return record, catalog
        if cached and now - cached.confirmed_at < self.stale_ttl:
            logger.warning("catalogs down (%s); serving the copy of %s confirmed %.0fs ago",
                           "; ".join(failures), service_id, now - cached.confirmed_at)
            return cached.record, cached.catalog
        if failures:
            logger.error("no catalog answered for %s: %s", service_id, "; ".join(failures))
            raise CatalogUnavailable("; ".join(failures))
        raise ServiceNotFound(service_id)

    def _keep(
        self, service_id: str, record: dict[str, Any], catalog: Catalog, etag: str | None, now: float
    ) -> None:
        with self._lock:
            self._cache[service_id] = _Copy(record, catalog, etag, now)

    def faq_entry(self, service_id: str, faq_id: str) -> dict[str, Any] | None:
        """An FAQ entry of the service as the catalog has it now (catalog/faq.py), so an answer an
        agency edited is used at once; None when the catalogs answered and none has it. While
        they are down, the last good copy (up to `stale_ttl_seconds` old) is used."""
        now = time.monotonic()
        key = f"faq:{service_id}/{faq_id}"
        with self._lock:
            cached = self._cache.get(key)
        failures = []
        for catalog in self.catalogs:
            if not catalog.may_hold(service_id):
                continue
            url = f"{catalog.url}/services/{service_id}/faq/{faq_id}"
            try:
                response = self.session.get(url, timeout=self.timeout)
            except requests.RequestException as error:
                failures.append(f"{catalog.name}: {type(error).__name__}")
                continue
            if response.status_code == 404:
                continue
            if not response.ok:
                failures.append(f"{catalog.name}: HTTP {response.status_code}")
                continue
            entry = response.json()
            self._keep(key, entry, catalog, None, now)
            return entry
        if failures and cached and now - cached.confirmed_at < self.stale_ttl:
            return cached.record
        if failures:
            raise CatalogUnavailable("; ".join(failures))
        return None
