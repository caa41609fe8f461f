"""Settings common to every service, read from ``JIETIAO_*`` environment variables."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What every service needs to reach the bus, its database and its peers."""

    model_config = SettingsConfigDict(env_prefix="JIETIAO_", extra="ignore")

    service_name: str = "service"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    nats_url: str = "nats://127.0.0.1:4222"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    jwks_url: str = "http://127.0.0.1:8102/.well-known/jwks.json"
    operator_token: str = Field(default="", repr=False)
    log_level: str = "INFO"
    log_format: str = "json"
    max_deliver: int = 6
    retry_backoff_seconds: list[float] = [0.5, 2.0, 5.0, 15.0, 30.0]
    outbox_poll_seconds: float = 1.0
    outbox_retention_hours: float = 24.0
    inbox_retention_days: float = 30.0
    idempotency_retention_hours: float = 24.0
    max_request_bytes: int = 1024 * 1024
    """A larger request body is refused with 413 before it is read (signatures need 256 KiB)."""
    stream_replicas: int = 1
    otel_exporter: str = "none"
    otel_endpoint: str | None = None
    otel_file: str | None = None
