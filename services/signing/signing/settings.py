"""Settings of the signing service."""

from jietiao_shared.settings import ServiceSettings


class SigningSettings(ServiceSettings):
    """Signing needs nothing beyond the common settings yet."""

    service_name: str = "signing"
    http_port: int = 8103
