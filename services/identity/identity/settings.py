"""Settings of the identity service."""

from typing import Literal

from jietiao_shared.wechat import WeChatSettings
from pydantic import Field


class IdentitySettings(WeChatSettings):
    """Login codes, session tokens, face verification and mini-program login."""

    service_name: str = "identity"
    http_port: int = 8102
    public_url: str = "http://127.0.0.1:8100"
    face_provider: Literal["local", "tencent"] = "local"
    code_ttl_seconds: int = 300
    code_max_attempts: int = 5
    code_min_interval_seconds: int = 30
    codes_per_phone_per_hour: int = 5
    token_ttl_seconds: int = 12 * 3600
    verification_ttl_seconds: int = 900
    verification_sweep_seconds: float = 30.0

    # Tencent Cloud FaceID (JIETIAO_FACE_PROVIDER=tencent); the endpoint is for tests only.
    tencent_secret_id: str = Field(default="", repr=False)
    tencent_secret_key: str = Field(default="", repr=False)
    tencent_faceid_host: str = "faceid.tencentcloudapi.com"
    tencent_faceid_endpoint: str = ""
    tencent_faceid_rule_id: str = ""
    # Where FaceID's H5 page sends the person back; {verification_id} is filled in.
    tencent_faceid_redirect_url: str = ""
    tencent_timeout_seconds: float = 5.0
