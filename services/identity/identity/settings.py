"""Settings of the identity service."""

from jietiao_shared.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    """Login codes, session tokens and face verification."""

    service_name: str = "identity"
    http_port: int = 8102
    public_url: str = "http://127.0.0.1:8100"
    face_provider: str = "local"
    code_ttl_seconds: int = 300
    code_max_attempts: int = 5
    code_min_interval_seconds: int = 30
    codes_per_phone_per_hour: int = 5
    token_ttl_seconds: int = 12 * 3600
    verification_ttl_seconds: int = 900
