"""The catalog's admin API (catalog/app.py, `/admin/...`), for the agency API (staff/api/agency.py).

The catalog owns its records and their history and checks each edit against the record's rules;
the gateway decides who may ask. An agency account's code goes with each call, and the catalog
refuses a record that is (or would become) another agency's in the same transaction as the edit.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from gateway.config import Settings

# The catalog's record ids (catalog/models.py).
_SERVICE_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


class CatalogAdminError(Exception):
    pass


class RecordNotFound(CatalogAdminError):
    """No such record, or no such version of it."""


class NotTheAgencys(CatalogAdminError):
    """The record is (or would become) another agency's."""


class RecordInvalid(CatalogAdminError):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors))
        self.errors = errors


class CatalogUnavailable(CatalogAdminError):
    """The catalog did not answer, refused the token, or no token is configured."""


class CatalogAdmin:
    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.configured = bool(token)
        self._client = httpx.AsyncClient(
            base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> CatalogAdmin:
        return cls(settings.catalog_url, settings.catalog_admin_token)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def records(self, agency: str | None) -> list[dict[str, Any]]:
        """The records an agency looks after (every record for None), with their review flag."""
        params = {"agency": agency} if agency is not None else {}
        return (await self._call("GET", "/admin/services", params=params))["items"]

    async def record(self, service_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/services/{_segment(service_id)}")

    async def edit(
        self, service_id: str, by: str, fields: dict[str, Any], agency: str | None
    ) -> dict[str, Any]:
        """`{"record", "version", "changed"}` once the edit is live."""
        body = {"by": by, "fields": fields, "agency": agency}
        return await self._call("PATCH", f"/admin/services/{_segment(service_id)}", json=body)

    async def history(self, service_id: str, agency: str | None) -> list[dict[str, Any]]:
        params = {"agency": agency} if agency is not None else {}
        path = f"/admin/services/{_segment(service_id)}/history"
        return (await self._call("GET", path, params=params))["versions"]

    async def restore(self, service_id: str, version: int, by: str, agency: str | None) -> dict[str, Any]:
        """`{"record", "version", "changed", "restored_from"}` once the old state is live again."""
        path = f"/admin/services/{_segment(service_id)}/history/{version}/restore"
        return await self._call("POST", path, json={"by": by, "agency": agency})

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        if not self.configured:
            raise CatalogUnavailable("CATALOG_ADMIN_TOKEN is not set")
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CatalogUnavailable(f"{self.base_url}: {type(exc).__name__}") from exc
        if response.status_code == 404:
            raise RecordNotFound(path)
        if response.status_code == 403:
            raise NotTheAgencys(path)
        if response.status_code == 422:
            errors = _errors(response)
            if errors is not None:
                raise RecordInvalid(errors)
        if response.is_error:
            # 401 (a token that is not the catalog's), 422 of a malformed call, 5xx: ours to fix.
            raise CatalogUnavailable(f"{method} {path}: HTTP {response.status_code}")
        return response.json()


def _segment(service_id: str) -> str:
    # Only what can be a record's id goes into a path: ".." or "a/b" cannot reach another route.
    if not _SERVICE_ID.fullmatch(service_id):
        raise RecordNotFound(service_id)
    return service_id


def _errors(response: httpx.Response) -> list[dict[str, str]] | None:
    try:
        errors = response.json().get("errors")
    except ValueError:
        return None
    return errors if isinstance(errors, list) else None
