"""The agreements service: owns IOUs and orchestrates their saga."""

from fastapi import FastAPI
from jietiao_shared.service import Runtime, ServiceSpec

from . import api, handlers, ops, store, workers
from .settings import AgreementsSettings


async def _seal_personal_data(runtime: Runtime, app: FastAPI) -> None:
    """Encrypt party rows left in plaintext or under an older data key."""
    async with runtime.engine.begin() as conn:
        await store.seal_plaintext(conn)


def build_spec() -> ServiceSpec:
    """Describe the agreements service to the shared runtime."""
    return ServiceSpec(
        name="agreements",
        title="Jietiao agreements",
        settings=AgreementsSettings(),
        routers=[api.router, ops.router],
        register_consumers=handlers.register,
        workers=[workers.expire_unsigned, workers.sweep_sagas],
        migration_packages=["jietiao_shared", "agreements"],
        on_startup=_seal_personal_data,
    )
