"""Errors every HTTP API answers the same way: a code, a message, field details."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


class ApiError(Exception):
    """An error the caller can act on: HTTP status, English code, Chinese message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        fields: list[dict[str, str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or []
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        """The JSON answer."""
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        body.update(self.extra)
        return body


def field_error(field: str, code: str, message: str) -> ApiError:
    """A 422 naming one field."""
    return ApiError(
        422,
        "validation_failed",
        "填写有误，请检查标出的字段",
        fields=[{"field": field, "code": code, "message": message}],
    )


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _on_api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status)


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [
        {
            "field": _location(tuple(e.get("loc", ()))),
            "code": str(e.get("type", "invalid")),
            "message": str(e.get("msg", "invalid")),
        }
        for e in exc.errors()
    ]
    body = {
        "error": "validation_failed",
        "message": "填写有误，请检查标出的字段",
        "fields": fields,
    }
    return JSONResponse(body, status_code=422)


def install(app: FastAPI) -> None:
    """Answer ApiError and request validation errors as JSON with field details."""
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
