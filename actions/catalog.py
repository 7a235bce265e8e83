"""The one catalog client the action server shares (one HTTP session, one cache)."""

from __future__ import annotations

from functools import lru_cache

from actions.catalog_client import CatalogClient


@lru_cache(maxsize=1)
def client() -> CatalogClient:
    return CatalogClient.from_config()
