"""TC3-HMAC-SHA256 against the public worked example, and the client's error mapping."""

import json
from typing import Any

import httpx
import pytest
from jietiao_shared.tencent import (
    TencentApiError,
    TencentClient,
    TencentCredentials,
    TencentError,
    sign_tc3,
)

EXAMPLE = TencentCredentials("AKID" + "*" * 32, "*" * 32)
EXAMPLE_BODY = (
    b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
)


def _example() -> Any:
    return sign_tc3(
        credentials=EXAMPLE,
        host="cvm.tencentcloudapi.com",
        service="cvm",
        action="DescribeInstances",
        version="2017-03-12",
        region="ap-guangzhou",
        timestamp=1551113065,
        body=EXAMPLE_BODY,
        content_type="application/json; charset=utf-8",
    )


def test_the_public_worked_example_is_reproduced_exactly() -> None:
    signed = _example()

    assert len(EXAMPLE_BODY) == 86
    assert signed.payload_hash == (
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )
    assert signed.canonical_request_hash == (
        "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84"
    )
    assert signed.signature == ("10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f")
    assert signed.headers["Authorization"] == (
        "TC3-HMAC-SHA256 Credential=AKID" + "*" * 32 + "/2019-02-25/cvm/tc3_request,"
        " SignedHeaders=content-type;host;x-tc-action,"
        " Signature=10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f"
    )
    assert signed.headers["X-TC-Action"] == "DescribeInstances"
    assert signed.headers["X-TC-Region"] == "ap-guangzhou"


def test_the_date_is_the_utc_date_even_early_in_beijing() -> None:
    # 2019-02-26 07:00 in Beijing is still 2019-02-25 in UTC.
    signed = sign_tc3(
        credentials=EXAMPLE,
        host="cvm.tencentcloudapi.com",
        service="cvm",
        action="DescribeInstances",
        version="2017-03-12",
        timestamp=1551135600,
        body=b"{}",
    )

    assert "/2019-02-25/cvm/tc3_request" in signed.headers["Authorization"]
    assert "X-TC-Region" not in signed.headers


def test_credentials_never_show_in_a_repr() -> None:
    secret = "verysecretkeyvalue"
    credentials = TencentCredentials("AKIDexample123", secret)

    assert secret not in repr(credentials)
    assert "AKIDexample123" not in repr(credentials)
    client = TencentClient(credentials, service="sms", host="sms.example", version="v")
    assert secret not in repr(client)


def _client(handler: Any) -> TencentClient:
    return TencentClient(
        TencentCredentials("AKIDtest", "key"),
        service="sms",
        host="sms.tencentcloudapi.com",
        version="2021-01-11",
        region="ap-guangzhou",
        endpoint="http://127.0.0.1:9/",
        transport=httpx.MockTransport(handler),
    )


@pytest.mark.asyncio
async def test_the_client_sends_signed_json_and_returns_the_response() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"Response": {"RequestId": "r1", "Ok": 1}})

    client = _client(handler)
    answer = await client.call("SendSms", {"SignName": "借条"})
    await client.aclose()

    assert answer == {"RequestId": "r1", "Ok": 1}
    [request] = seen
    assert json.loads(request.content) == {"SignName": "借条"}
    assert request.headers["host"] == "sms.tencentcloudapi.com"
    assert request.headers["authorization"].startswith("TC3-HMAC-SHA256 Credential=AKIDtest/")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("answer", "code", "transient"),
    [
        (httpx.Response(502, text="bad gateway"), "HTTP502", True),
        (httpx.Response(200, text="<html>"), "MalformedResponse", True),
        (httpx.Response(200, json={"Response": []}), "MalformedResponse", True),
        (
            httpx.Response(
                200,
                json={"Response": {"Error": {"Code": "AuthFailure.SignatureFailure"}}},
            ),
            "AuthFailure.SignatureFailure",
            False,
        ),
        (
            httpx.Response(200, json={"Response": {"Error": {"Code": "InternalError.Timeout"}}}),
            "InternalError.Timeout",
            True,
        ),
    ],
)
async def test_answers_map_to_errors(answer: httpx.Response, code: str, transient: bool) -> None:
    client = _client(lambda request: answer)

    with pytest.raises(TencentError) as failed:
        await client.call("SendSms", {})
    await client.aclose()

    assert failed.value.code == code
    assert failed.value.transient is transient
    if code.startswith(("Auth", "Internal")):
        assert isinstance(failed.value, TencentApiError)


@pytest.mark.asyncio
async def test_a_timeout_is_transient() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    client = _client(handler)
    with pytest.raises(TencentError) as failed:
        await client.call("SendSms", {})
    await client.aclose()

    assert (failed.value.code, failed.value.transient) == ("Timeout", True)
