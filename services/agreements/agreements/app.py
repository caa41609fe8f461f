"""The agreements service: owns IOUs and orchestrates their saga."""

from jietiao_shared.service import ServiceSpec

from . import api, handlers, ops, workers
from .settings import AgreementsSettings


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
    )
