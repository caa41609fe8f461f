"""Errors every HTTP API answers the same way: a code, a message, field details."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException


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


_HTTP_ERRORS = {
    400: ("bad_request", "请求格式有误"),
    401: ("not_logged_in", "请先登录"),
    403: ("forbidden", "没有权限"),
    404: ("not_found", "没有找到"),
    405: ("method_not_allowed", "不支持此操作"),
    413: ("too_large", "请求内容过大"),
}


async def _on_http_error(_: Request, exc: Exception) -> JSONResponse:
    """Framework errors (no route, a body that is not JSON) in the same shape."""
    assert isinstance(exc, HTTPException)
    code, message = _HTTP_ERRORS.get(exc.status_code, ("http_error", "请求无法处理"))
    return JSONResponse(
        {"error": code, "message": message},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def install(app: FastAPI) -> None:
    """Answer ApiError, request validation and framework errors as JSON in one shape."""
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
