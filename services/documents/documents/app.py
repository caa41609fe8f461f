"""The documents service: renders, stores and serves an IOU's PDF documents."""

import logging

from fastapi import FastAPI
from jietiao_shared.service import Runtime, ServiceSpec

from . import api
from .handlers import DocumentHandlers
from .render import find_font
from .settings import DocumentsSettings

log = logging.getLogger(__name__)


async def _startup(runtime: Runtime, app: FastAPI) -> None:
    settings = runtime.settings
    assert isinstance(settings, DocumentsSettings)
    # Fail at start, not on every render command, when no CJK font is installed.
    log.info("rendering with font %s", find_font(settings.cjk_font))


def build_spec() -> ServiceSpec:
    """Describe the documents service to the shared runtime."""
    settings = DocumentsSettings()
    return ServiceSpec(
        name="documents",
        title="Jietiao documents",
        settings=settings,
        routers=[api.router],
        register_consumers=DocumentHandlers(settings.cjk_font).register,
        migration_packages=["jietiao_shared", "documents"],
        on_startup=_startup,
    )
