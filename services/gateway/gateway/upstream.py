"""Calls from the gateway to the services, passing the caller's token along."""

import itertools
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import Response
from jietiao_shared.errors import ApiError
from jietiao_shared.telemetry import inject, tracer
from opentelemetry.trace import SpanKind

FORWARDED_HEADERS = (
    "authorization",
    "x-operator-token",
    "idempotency-key",
    "user-agent",
)


def client_ip(request: Request) -> str:
    """The address the request came from."""
    return request.client.host if request.client else ""


def forwarded_headers(request: Request) -> dict[str, str]:
    """The caller's headers that the services need, plus its address.

    A forwarded header must be printable ASCII (what tokens and keys are made of);
    anything else is the caller's mistake, answered 400, not passed on.
    """
    headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED_HEADERS}
    for name, value in headers.items():
        if not (value.isascii() and value.isprintable()):
            raise ApiError(400, "header_invalid", f"请求头 {name} 只能包含可见的 ASCII 字符")
    headers["x-client-ip"] = client_ip(request)
    return headers


class Upstreams:
    """One pooled HTTP client for all services, spreading calls over their replicas.

    Each service's URL setting may list several replicas, comma-separated; calls go
    to them in turn, and a replica that refuses the connection is skipped for the
    next one.
    """

    def __init__(self, timeout: float, bases: dict[str, str] | None = None) -> None:
        self.client = httpx.AsyncClient(timeout=timeout)
        self.bases = {
            service: [u.strip().rstrip("/") for u in urls.split(",") if u.strip()]
            for service, urls in (bases or {}).items()
        }
        self._turn = itertools.count()

    def url(self, service: str, path: str) -> str:
        """The URL of ``path`` on the next replica of ``service``."""
        bases = self.bases[service]
        return bases[next(self._turn) % len(bases)] + path

    def _others(self, url: str) -> list[str]:
        for bases in self.bases.values():
            for base in bases:
                if url.startswith(base + "/"):
                    path = url[len(base) :]
                    return [b + path for b in bases if b != base]
        return []

    async def call(
        self,
        request: Request,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """Call a service as the caller; a service that does not answer is a 503."""
        headers = forwarded_headers(request)
        if content is not None:
            headers["content-type"] = request.headers.get("content-type", "application/json")
        for attempt in [url, *self._others(url)]:
            try:
                with tracer().start_as_current_span(f"{method} {attempt}", kind=SpanKind.CLIENT):
                    return await self.client.request(
                        method,
                        attempt,
                        json=json,
                        content=content,
                        params=params,
                        headers=inject(dict(headers)),
                    )
            except httpx.ConnectError:
                continue
            except httpx.InvalidURL as exc:  # a path or query with control characters
                raise ApiError(404, "not_found", "没有找到") from exc
            except httpx.HTTPError as exc:
                raise ApiError(503, "service_unavailable", "服务暂时不可用，请稍后重试") from exc
        raise ApiError(503, "service_unavailable", "服务暂时不可用，请稍后重试")

    async def json_or_raise(self, response: httpx.Response) -> Any:
        """The JSON body of a 2xx answer; the service's own error otherwise."""
        if response.status_code >= 400:
            raise _as_error(response)
        return response.json()

    async def close(self) -> None:
        """Release the connections."""
        await self.client.aclose()


def _as_error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = ApiError(
        response.status_code,
        str(body.get("error", "upstream_error")),
        str(body.get("message", "服务出错")),
        fields=body.get("fields"),
    )
    error.extra = {k: v for k, v in body.items() if k not in ("error", "message", "fields")}
    return error


def relay(response: httpx.Response) -> Response:
    """Pass a service's answer to the client unchanged."""
    keep = (
        "content-type",
        "content-disposition",
        "x-document-sha256",
        "x-document-version",
        "idempotent-replayed",
    )
    headers = {k: v for k, v in response.headers.items() if k.lower() in keep}
    return Response(response.content, status_code=response.status_code, headers=headers)
