"""Operator endpoints of agreements."""

from typing import Any

from fastapi import APIRouter, Query, Request
from jietiao_shared.auth import Operator

from . import stuck
from .settings import AgreementsSettings

router = APIRouter(prefix="/ops", tags=["operators"], dependencies=[Operator])


@router.get("/stuck")
async def stuck_sagas(
    request: Request, older_than_seconds: float | None = Query(default=None, ge=0)
) -> dict[str, Any]:
    """Sagas waiting longer than they should for a step that is not a person's."""
    settings = request.app.state.settings
    assert isinstance(settings, AgreementsSettings)
    age = settings.stuck_after_seconds if older_than_seconds is None else older_than_seconds
    async with request.app.state.runtime.engine.connect() as conn:
        return {"items": await stuck.list_stuck(conn, age)}
