"""The signing service: captures handwritten signatures bound to a document version."""

from jietiao_shared.service import ServiceSpec

from . import api
from .settings import SigningSettings


def build_spec() -> ServiceSpec:
    """Describe the signing service to the shared runtime."""
    return ServiceSpec(
        name="signing",
        title="Jietiao signing",
        settings=SigningSettings(),
        routers=[api.router],
        migration_packages=["jietiao_shared", "signing"],
    )
