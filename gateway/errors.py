"""A 422 for a request FastAPI could not validate that never echoes what was sent.

FastAPI's own answer repeats each wrong value (`input`), which fails outright for a body that is not
UTF-8 (a 500 where a 422 belongs) and would hand a mistyped password back in the response. The
shape stays FastAPI's, `{"detail": [{"type", "loc", "msg", "ctx"?}]}`, without `input`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

_PLAIN = (str, int, float, bool, type(None))


def _error(error: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "type": str(error.get("type", "")),
        "loc": [part if isinstance(part, int) else str(part) for part in error.get("loc", ())],
        "msg": str(error.get("msg", "")),
    }
    ctx = error.get("ctx")
    if isinstance(ctx, dict):
        # Limits such as max_length help a client; anything else (an exception object) says nothing to it.
        shown["ctx"] = {str(k): v for k, v in ctx.items() if isinstance(v, _PLAIN)}
    return shown


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": [_error(e) for e in errors if isinstance(e, dict)]}, status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
