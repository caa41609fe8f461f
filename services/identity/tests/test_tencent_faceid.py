"""TencentFaceIdProvider against a local fake FaceID server that checks signatures."""

from collections.abc import Iterator
from typing import Any

import pytest
from fake_faceid import HOST, FakeFaceId
from identity.face import (
    FaceProviderError,
    FaceSession,
    TencentFaceIdProvider,
    make_provider,
)
from identity.settings import IdentitySettings
from identity.verifications import judge
from jietiao_shared.personal import id_number_sha256
from jietiao_shared.tencent import TencentClient, TencentCredentials

CREDENTIALS = TencentCredentials("AKIDfakeface", "fake-face-secret-key")
ID_NUMBER = "11010519491231002X"
NAME = "王小明"


@pytest.fixture
def fake() -> Iterator[FakeFaceId]:
    """The fake FaceID server for one test."""
    server = FakeFaceId(CREDENTIALS, slow_seconds=1.0).start()
    yield server
    server.stop()


def _provider(fake: FakeFaceId) -> TencentFaceIdProvider:
    client = TencentClient(
        CREDENTIALS,
        service="faceid",
        host=HOST,
        version="2018-03-01",
        endpoint=fake.url,
        timeout_seconds=0.4,
    )
    return TencentFaceIdProvider(
        client, rule_id="1", redirect_url="http://127.0.0.1:8100/face/tencent/{verification_id}"
    )


async def _started(fake: FakeFaceId, verification_id: str = "v-1") -> tuple[Any, str]:
    provider = _provider(fake)
    started = await provider.start(None, FaceSession(verification_id, NAME, ID_NUMBER.lower()))  # type: ignore[arg-type]
    return provider, started.provider_ref


@pytest.mark.asyncio
async def test_a_check_starts_with_our_session_in_extra(fake: FakeFaceId) -> None:
    provider = _provider(fake)

    started = await provider.start(None, FaceSession("v-1", NAME, ID_NUMBER.lower()))  # type: ignore[arg-type]

    assert started.url.endswith(started.provider_ref)
    action, body, signed = fake.requests[0]
    assert (action, signed) == ("DetectAuth", True)
    assert body == {
        "RuleId": "1",
        "IdCard": ID_NUMBER,
        "Name": NAME,
        "RedirectUrl": "http://127.0.0.1:8100/face/tencent/v-1",
        "Extra": "v-1",
    }


@pytest.mark.asyncio
async def test_a_pass_reports_who_was_seen_and_no_image(fake: FakeFaceId) -> None:
    provider, token = await _started(fake)
    fake.finish(token, 0)

    result = await provider.fetch(token, "v-1")

    assert result.status == "passed"
    assert result.seen_name == NAME
    assert result.seen_id_sha256 == id_number_sha256(ID_NUMBER)
    assert judge(result, NAME, id_number_sha256(ID_NUMBER)) == ("passed", "")
    action, body, _ = fake.requests[-1]
    assert action == "GetDetectInfoEnhanced"
    assert body["InfoType"] == "1"
    assert not hasattr(result, "image")


@pytest.mark.asyncio
async def test_a_pass_for_someone_else_is_a_refusal(fake: FakeFaceId) -> None:
    provider, token = await _started(fake)
    fake.finish(token, 0, name="李四", id_card="110105194912310046")

    result = await provider.fetch(token, "v-1")

    assert judge(result, NAME, id_number_sha256(ID_NUMBER)) == ("failed", "identity_mismatch")


@pytest.mark.asyncio
async def test_a_token_of_another_session_is_refused(fake: FakeFaceId) -> None:
    provider, token = await _started(fake, "v-other")
    fake.finish(token, 0)

    result = await provider.fetch(token, "v-1")

    assert (result.status, result.reason) == ("failed", "provider_session_mismatch")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("err_code", "status", "reason"),
    [
        (None, "pending", "provider_code_17"),
        (17, "pending", "provider_code_17"),
        (4, "pending", "provider_code_4"),
        (13, "pending", "provider_code_13"),
        (15, "failed", "face_session_expired"),
        (2006, "failed", "name_id_mismatch"),
        (2016, "failed", "face_not_matched"),
        (301, "failed", "id_number_differs"),
        (1002, "failed", "liveness_failed"),
        (9999, "failed", "provider_code_9999"),
    ],
)
async def test_result_codes_map_to_outcomes(
    fake: FakeFaceId, err_code: int | None, status: str, reason: str
) -> None:
    provider, token = await _started(fake)
    if err_code is not None:
        fake.finish(token, err_code)

    result = await provider.fetch(token, "v-1")

    assert (result.status, result.reason) == (status, reason)
    assert result.seen_id_sha256 == ""


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fault", "status", "reason"),
    [
        ("slow", "pending", "provider_unavailable"),
        ("5xx", "pending", "provider_unavailable"),
        ("malformed", "pending", "provider_unavailable"),
        ("error:InternalError", "pending", "provider_unavailable"),
        ("error:AuthFailure.SignatureExpire", "pending", "provider_unavailable"),
        (
            "error:FailedOperation.IdNameMisMatch",
            "failed",
            "provider_FailedOperation.IdNameMisMatch",
        ),
    ],
)
async def test_faults_while_fetching_never_pass(
    fake: FakeFaceId, fault: str, status: str, reason: str
) -> None:
    provider, token = await _started(fake)
    fake.finish(token, 0)
    fake.faults.append(fault)

    result = await provider.fetch(token, "v-1")

    assert (result.status, result.reason) == (status, reason)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fault", "code", "transient"),
    [
        ("slow", "Timeout", True),
        ("5xx", "HTTP502", True),
        ("malformed", "MalformedResponse", True),
        ("error:InvalidParameterValue.IdCard", "InvalidParameterValue.IdCard", False),
    ],
)
async def test_faults_while_starting_are_errors(
    fake: FakeFaceId, fault: str, code: str, transient: bool
) -> None:
    fake.faults.append(fault)

    with pytest.raises(FaceProviderError) as failed:
        await _started(fake)

    assert (failed.value.code, failed.value.transient) == (code, transient)


def test_the_setting_chooses_tencent_and_keeps_the_key_out_of_reprs() -> None:
    settings = IdentitySettings(
        face_provider="tencent",
        tencent_secret_id="AKIDfakeface",
        tencent_secret_key="fake-face-secret-key",
        tencent_faceid_rule_id="1",
    )

    provider = make_provider(settings)

    assert isinstance(provider, TencentFaceIdProvider)
    assert provider.client.endpoint == f"https://{HOST}/"
    assert "fake-face-secret-key" not in repr(settings) + repr(provider.client.credentials)
    with pytest.raises(ValueError):
        make_provider(IdentitySettings(face_provider="tencent"))
