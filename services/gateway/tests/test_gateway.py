"""The gateway in front of stand-in services: what it forwards and what it decides."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, Request, Response
from gateway.app import build_spec
from jietiao_shared.service import create_app
from jietiao_stack.testing import free_port, serving

pytestmark = pytest.mark.asyncio(loop_scope="module")


def fake_services(seen: list[dict[str, Any]], actions: list[str]) -> FastAPI:
    """Stands in for agreements and signing: records what the gateway sends."""
    app = FastAPI()

    @app.get("/ious/{iou_id}/party")
    async def party(iou_id: str) -> dict[str, Any]:
        return {
            "role": "borrower",
            "name": "李四",
            "id_number": "440524188001010014",
            "status": "awaiting_counterparty",
            "actions": actions,
        }

    @app.post("/signatures", status_code=201)
    async def signatures(request: Request, response: Response) -> dict[str, Any]:
        body = await request.json()
        seen.append({"body": body, "headers": dict(request.headers)})
        if "idempotency-key" in request.headers:
            response.headers["idempotent-replayed"] = "true"
        return {"signature_id": "s-1"}

    return app


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stand_in() -> AsyncIterator[tuple[list[dict[str, Any]], list[str], str]]:
    seen: list[dict[str, Any]] = []
    actions = ["sign"]
    port = free_port()
    async with serving(fake_services(seen, actions), port):
        yield seen, actions, f"http://127.0.0.1:{port}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gateway(stand_in: tuple[list[Any], list[str], str]) -> AsyncIterator[httpx.AsyncClient]:
    _, _, url = stand_in
    mp = pytest.MonkeyPatch()
    dead_replica = f"http://127.0.0.1:{free_port()}"
    mp.setenv("JIETIAO_AGREEMENTS_URL", f"{dead_replica},{url}")
    mp.setenv("JIETIAO_SIGNING_URL", url)
    mp.setenv("JIETIAO_IDENTITY_URL", f"http://127.0.0.1:{free_port()}")
    port = free_port()
    async with (
        serving(create_app(build_spec()), port),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        yield client
    mp.undo()


async def test_the_party_role_comes_from_agreements_not_from_the_client(
    gateway: httpx.AsyncClient, stand_in: tuple[list[dict[str, Any]], list[str], str]
) -> None:
    seen, _, _ = stand_in
    response = await gateway.post(
        "/api/ious/abc/signatures",
        headers={"authorization": "Bearer t", "user-agent": "phone/1"},
        json={"document_sha256": "0" * 64, "signature": {}, "party_role": "lender"},
    )
    assert response.status_code == 201
    sent = seen[-1]
    assert sent["body"]["party_role"] == "borrower"
    assert sent["headers"]["authorization"] == "Bearer t"
    assert sent["headers"]["x-client-ip"] == "127.0.0.1"


async def test_signing_is_refused_when_the_iou_is_not_the_callers_to_sign(
    gateway: httpx.AsyncClient, stand_in: tuple[list[dict[str, Any]], list[str], str]
) -> None:
    _, actions, _ = stand_in
    actions.clear()
    try:
        response = await gateway.post(
            "/api/ious/abc/signatures",
            headers={"authorization": "Bearer t"},
            json={"document_sha256": "0" * 64, "signature": {}},
        )
    finally:
        actions.append("sign")
    assert response.status_code == 409
    assert response.json()["status"] == "awaiting_counterparty"


async def test_a_replica_that_is_down_is_skipped_for_another(
    gateway: httpx.AsyncClient, stand_in: tuple[list[dict[str, Any]], list[str], str]
) -> None:
    seen, _, _ = stand_in
    before = len(seen)
    for _ in range(4):
        response = await gateway.post(
            "/api/ious/abc/signatures",
            headers={"authorization": "Bearer t"},
            json={"document_sha256": "0" * 64, "signature": {}},
        )
        assert response.status_code == 201
    assert len(seen) == before + 4


async def test_a_service_that_does_not_answer_is_a_clear_503(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post("/api/auth/codes", json={"phone": "13800138000"})
    assert response.status_code == 503
    assert response.json() == {
        "error": "service_unavailable",
        "message": "服务暂时不可用，请稍后重试",
    }


async def test_the_api_is_described_by_openapi(gateway: httpx.AsyncClient) -> None:
    paths = (await gateway.get("/openapi.json")).json()["paths"]
    assert "/api/ious/{iou_id}/void-requests/{void_id}/{answer}" in paths
    assert "/api/auth/codes" in paths


async def test_the_web_client_is_served_on_the_same_origin(gateway: httpx.AsyncClient) -> None:
    page = await gateway.get("/")
    assert page.status_code == 200 and 'src="/app/app.js"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    script = await gateway.get("/app/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert (await gateway.get("/app/style.css")).headers["content-type"].startswith("text/css")
    for missing in ("/app/nope.js", "/app/..%2Fpages.py", "/app/pages.py"):
        assert (await gateway.get(missing)).status_code == 404


@pytest.mark.parametrize("path", ["/s/abc_DEF-123", "/s"])
async def test_a_share_link_opens_the_page_without_leaking_its_token(
    gateway: httpx.AsyncClient, path: str
) -> None:
    page = await gateway.get(path)
    assert page.status_code == 200 and 'src="/app/app.js"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"


async def test_the_local_face_page_returns_only_to_this_origin(gateway: httpx.AsyncClient) -> None:
    page = await gateway.get("/face/local/00000000-0000-0000-0000-000000000000?back=/%23/x")
    assert page.status_code == 200
    assert "back.startsWith('/') && !back.startsWith('//')" in page.text


async def test_a_header_that_is_not_printable_ascii_is_a_400_not_a_crash(
    gateway: httpx.AsyncClient, stand_in: tuple[list[dict[str, Any]], list[str], str]
) -> None:
    seen, _, _ = stand_in
    before = len(seen)
    for key in ("é" * 20).encode("latin-1"), ("键" * 20).encode():
        response = await gateway.post(
            "/api/ious/abc/signatures",
            headers={"authorization": "Bearer t", "idempotency-key": key},
            json={"document_sha256": "0" * 64, "signature": {}},
        )
        assert response.status_code == 400
        assert response.json()["error"] == "header_invalid"
    assert len(seen) == before


async def test_a_path_with_a_control_character_is_not_found(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/api/ious/abc%00", headers={"authorization": "Bearer t"})
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_a_replayed_answer_says_so_through_the_gateway(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post(
        "/api/ious/abc/signatures",
        headers={"authorization": "Bearer t", "idempotency-key": "k" * 32},
        json={"document_sha256": "0" * 64, "signature": {}},
    )
    assert response.status_code == 201
    assert response.headers["idempotent-replayed"] == "true"


async def test_a_route_that_does_not_exist_answers_in_the_usual_shape(
    gateway: httpx.AsyncClient,
) -> None:
    response = await gateway.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "message": "没有找到"}


async def test_a_body_above_the_limit_is_refused_before_it_is_read(
    gateway: httpx.AsyncClient, stand_in: tuple[list[dict[str, Any]], list[str], str]
) -> None:
    seen, _, _ = stand_in
    before = len(seen)
    response = await gateway.post(
        "/api/ious/abc/signatures",
        headers={"authorization": "Bearer t", "content-type": "application/json"},
        content=b'{"pad": "' + b"x" * (1024 * 1024 + 1) + b'"}',
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert len(seen) == before
