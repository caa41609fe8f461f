"""The documents service: renders, seals, stores and serves an IOU's PDF documents."""

import asyncio
import logging

from fastapi import FastAPI
from jietiao_shared.service import Runtime, ServiceSpec

from . import api
from .handlers import DocumentHandlers
from .render import find_font
from .seal import Sealer
from .settings import DocumentsSettings

log = logging.getLogger(__name__)


def check_seal(sealer: Sealer, warning_days: int) -> str:
    """Log the seal's state: an error when unusable, a warning when expiring soon."""
    status = sealer.status()
    if not status.ok:
        log.error("seal unusable (%s): %s; signed and voided renders wait", status.state, status)
        return status.state
    days = status.days_left()
    if days is not None and days < warning_days:
        log.warning(
            "seal certificate expires in %.1f days (%s); replace it",
            days,
            status.not_after.isoformat() if status.not_after else "?",
        )
    return "ok"


def build_spec() -> ServiceSpec:
    """Describe the documents service to the shared runtime."""
    settings = DocumentsSettings()
    sealer = Sealer(settings.seal_config())

    async def startup(runtime: Runtime, app: FastAPI) -> None:
        # Fail at start, not on every render command, when no CJK font is installed.
        log.info("rendering with font %s", find_font(settings.cjk_font))
        state = await asyncio.to_thread(check_seal, sealer, settings.seal_expiry_warning_days)
        log.info("seal: %s", state)

    async def seal_expiry_check(runtime: Runtime) -> None:
        """Check the seal certificate once a day (the first check is at start)."""
        while True:
            await asyncio.sleep(settings.seal_check_interval_seconds)
            await asyncio.to_thread(check_seal, sealer, settings.seal_expiry_warning_days)

    async def readiness(runtime: Runtime) -> dict[str, str]:
        status = await asyncio.to_thread(sealer.status)
        return {"seal": "ok" if status.ok else status.state}

    return ServiceSpec(
        name="documents",
        title="Jietiao documents",
        settings=settings,
        routers=[api.router],
        register_consumers=DocumentHandlers(settings.cjk_font, sealer).register,
        workers=[seal_expiry_check],
        migration_packages=["jietiao_shared", "documents"],
        on_startup=startup,
        readiness=readiness,
    )
