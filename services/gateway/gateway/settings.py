"""Settings of the gateway."""

from jietiao_shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    """Where the gateway finds each service."""

    service_name: str = "gateway"
    http_port: int = 8100
    agreements_url: str = "http://127.0.0.1:8101"
    identity_url: str = "http://127.0.0.1:8102"
    signing_url: str = "http://127.0.0.1:8103"
    notify_url: str = "http://127.0.0.1:8104"
    documents_url: str = "http://127.0.0.1:8105"
    upstream_timeout_seconds: float = 15.0
