"""A client of the public HTTP API, as a person's app would use it.

The demo, the load script and the end-to-end tests all drive Jietiao through this
module, over the gateway's HTTP API only. Login codes are read from the local SMS
provider's record through the operator API, as an operator (or a test) would.
"""

import asyncio
import math
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from .personas import Person


class ApiFailure(RuntimeError):
    """The API answered with an error the caller did not expect."""

    def __init__(self, status: int, body: Any, what: str) -> None:
        super().__init__(f"{what}: HTTP {status} {body}")
        self.status = status
        self.body = body


Timer = Callable[[str, float], None]


def _no_timer(name: str, seconds: float) -> None:
    return None


@dataclass
class Session:
    """A logged-in person talking to the gateway."""

    api: "JietiaoApi"
    person: Person
    token: str
    account_id: str

    def _headers(self) -> dict[str, str]:
        return {
            "authorization": f"Bearer {self.token}",
            "user-agent": "jietiao-client/1",
        }

    async def call(
        self,
        name: str,
        method: str,
        path: str,
        *,
        expect: int | tuple[int, ...] = (200, 201),
        **kw: Any,
    ) -> Any:
        """Call the API as this person; raise :class:`ApiFailure` on an unexpected status."""
        return await self.api.request(
            name, method, path, headers=self._headers(), expect=expect, **kw
        )

    async def create_iou(
        self, counterparty: Person, *, role: str = "lender", **terms: Any
    ) -> dict[str, Any]:
        """Start an IOU with ``counterparty``, accepting the notice."""
        me, other = self.person, counterparty
        body = {
            "notice": {"version": "2026-01", "accepted": True},
            "role": role,
            "me": {"name": me.name, "id_number": me.id_number, "phone": me.phone},
            "counterparty": {
                "name": other.name,
                "id_number": other.id_number,
                "phone": other.phone,
            },
            "principal": "12000.00",
            "purpose": "装修房屋",
            "loan_date": time.strftime("%Y-%m-%d"),
            "term_months": 12,
            "annual_rate": "6",
            "overdue_rate": "12",
            "payment_method": "bank_transfer",
            "repayment_method": "equal_instalments",
            "reminders_enabled": False,
        }
        body.update(terms)
        result: dict[str, Any] = await self.call(
            "create_iou", "POST", "/api/ious", json=body, expect=201
        )
        return result

    async def iou(self, iou_id: str) -> dict[str, Any]:
        """The IOU as this person sees it."""
        result: dict[str, Any] = await self.call("get_iou", "GET", f"/api/ious/{iou_id}")
        return result

    async def wait_for(
        self,
        iou_id: str,
        predicate: Callable[[dict[str, Any]], bool],
        what: str,
        seconds: float = 30.0,
    ) -> dict[str, Any]:
        """Poll the IOU until ``predicate`` holds."""
        deadline = time.monotonic() + seconds
        iou: dict[str, Any] = {}
        while time.monotonic() < deadline:
            iou = await self.iou(iou_id)
            if predicate(iou):
                return iou
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{what} not reached within {seconds}s; status {iou.get('status')}")

    async def wait_status(self, iou_id: str, status: str, seconds: float = 30.0) -> dict[str, Any]:
        """Poll the IOU until it has ``status``."""
        return await self.wait_for(iou_id, lambda i: i["status"] == status, status, seconds)

    async def sign(self, iou: dict[str, Any]) -> dict[str, Any]:
        """Hand-sign the preview version shown, then pass the face check."""
        body = {
            "document_sha256": iou["documents"]["preview_sha256"],
            "signature": synthetic_signature(),
        }
        signature: dict[str, Any] = await self.call(
            "sign", "POST", f"/api/ious/{iou['id']}/signatures", json=body, expect=201
        )
        await self.verify(iou["id"], "sign")
        return signature

    async def verify(self, iou_id: str, action: str, outcome: str = "pass") -> dict[str, Any]:
        """Open a face check for ``action`` and complete it on the local provider."""
        opened = await self.call(
            "open_verification",
            "POST",
            f"/api/ious/{iou_id}/verifications",
            json={"action": action},
            expect=201,
        )
        result: dict[str, Any] = await self.call(
            "face_check",
            "POST",
            f"/api/verifications/{opened['verification_id']}/local-check",
            json={"outcome": outcome},
        )
        return result

    async def download(self, iou_id: str, kind: str) -> bytes:
        """Download the latest PDF of one kind."""
        started = time.perf_counter()
        path = f"/api/ious/{iou_id}/documents/{kind}"
        response = await self.api._send("GET", path, self._headers(), {})
        self.api.timer("download_" + kind, time.perf_counter() - started)
        if response.status_code != 200:
            raise ApiFailure(response.status_code, response.text, f"download {kind}")
        return response.content


@dataclass
class JietiaoApi:
    """The gateway's HTTP API."""

    base_url: str
    operator_token: str = ""
    timer: Timer = _no_timer
    retry_seconds: float = 0.0
    retries: int = field(default=0, init=False)
    http: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=30.0)

    async def close(self) -> None:
        """Release connections."""
        await self.http.aclose()

    async def request(
        self,
        name: str,
        method: str,
        path: str,
        *,
        expect: int | tuple[int, ...] = (200, 201),
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> Any:
        """One timed call; an unexpected status raises :class:`ApiFailure`.

        With ``retry_seconds`` set, a call that meets a server error or no answer is
        retried until then, as a phone app would; a POST carries one Idempotency-Key
        across its attempts so a retry never doubles its effect.
        """
        headers = dict(headers or {})
        if method == "POST" and self.retry_seconds:
            headers.setdefault("idempotency-key", uuid.uuid4().hex)
        started = time.perf_counter()
        response = await self._send(method, path, headers, kw)
        self.timer(name, time.perf_counter() - started)
        wanted = (expect,) if isinstance(expect, int) else expect
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code not in wanted:
            raise ApiFailure(response.status_code, body, f"{method} {path}")
        return body

    async def _send(
        self, method: str, path: str, headers: dict[str, str], kw: dict[str, Any]
    ) -> httpx.Response:
        deadline = time.monotonic() + self.retry_seconds
        while True:
            try:
                response = await self.http.request(method, path, headers=headers, **kw)
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            else:
                retryable = response.status_code >= 500 or (
                    response.status_code == 409 and _error_code(response) == "request_in_progress"
                )
                if not retryable or time.monotonic() > deadline:
                    return response
            self.retries += 1
            await asyncio.sleep(0.3)

    async def recorded_sms(self, **filters: str) -> list[dict[str, Any]]:
        """SMS recorded by the local provider (operator API)."""
        body = await self.request(
            "ops_sms",
            "GET",
            "/api/ops/sms",
            params=filters,
            headers={"x-operator-token": self.operator_token},
        )
        items: list[dict[str, Any]] = body["items"]
        return items

    async def wait_sms(
        self,
        phone: str,
        kind: str,
        *,
        count: int = 1,
        seconds: float = 30.0,
        **filters: str,
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` SMS of ``kind`` were recorded for ``phone``."""
        deadline = time.monotonic() + seconds
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            found = [m for m in await self.recorded_sms(phone=phone, kind=kind, **filters)]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{count} SMS of kind {kind} not recorded within {seconds}s")

    async def login(self, person: Person) -> Session:
        """Log in by phone and the one-time code the SMS carried.

        With ``retry_seconds`` set, a code refused because a newer one was sent
        meanwhile (a retried request, an SMS that arrived late) is asked for again,
        as a person would.
        """
        attempts = 3 if self.retry_seconds else 1
        for attempt in range(1, attempts + 1):
            try:
                return await self._login_once(person)
            except ApiFailure as failure:
                if attempt == attempts or failure.status != 400:
                    raise
            except TimeoutError:
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    async def _login_once(self, person: Person) -> Session:
        known = {m["id"] for m in await self.recorded_sms(phone=person.phone, kind="login_code")}
        await self.request(
            "request_code",
            "POST",
            "/api/auth/codes",
            json={"phone": person.phone},
            expect=202,
        )
        code = await self._new_code(person.phone, known)
        body = await self.request(
            "log_in",
            "POST",
            "/api/auth/sessions",
            json={"phone": person.phone, "code": code},
        )
        return Session(self, person, body["access_token"], body["account_id"])

    async def _new_code(self, phone: str, known: set[str]) -> str:
        patience = max(30.0, self.retry_seconds)
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            for message in await self.recorded_sms(phone=phone, kind="login_code"):
                if message["id"] not in known:
                    return _digits(message["text"])
            await asyncio.sleep(0.05)
        raise TimeoutError(f"login code SMS not recorded within {patience:.0f}s")


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", ""))
    except (ValueError, AttributeError):
        return ""


def _digits(text: str) -> str:
    run = ""
    for ch in text:
        run = run + ch if ch.isdigit() else ("" if len(run) != 6 else run)
        if len(run) == 6:
            return run
    raise ValueError("no 6-digit code in SMS text")


def synthetic_signature(seed: int | None = None) -> dict[str, Any]:
    """Strokes in signature-pad format that look like a quick handwritten name."""
    rng = random.Random(seed)
    width, height = 600, 200
    strokes = []
    t = 0
    for s in range(3):
        points = []
        x0 = 60 + s * 170 + rng.uniform(-10, 10)
        for i in range(40):
            a = i / 39 * 2 * math.pi
            points.append(
                {
                    "x": round(x0 + 60 * i / 39 + 25 * math.sin(a * 1.5), 2),
                    "y": round(100 + 45 * math.cos(a) * rng.uniform(0.8, 1.0), 2),
                    "time": t,
                    "pressure": 0.5,
                }
            )
            t += 16
        t += 200
        strokes.append({"points": points})
    return {
        "strokes": strokes,
        "canvas_width": width,
        "canvas_height": height,
        "device_pixel_ratio": 2.0,
    }


Step = Callable[[], Awaitable[Any]]
