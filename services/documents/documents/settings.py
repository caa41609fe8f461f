"""Settings of the documents service."""

from jietiao_shared.settings import ServiceSettings


class DocumentsSettings(ServiceSettings):
    """Documents adds the CJK font it renders with (``JIETIAO_CJK_FONT``)."""

    service_name: str = "documents"
    http_port: int = 8105
    cjk_font: str | None = None
