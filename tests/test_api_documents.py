"""The API documents in docs/ say what the code does: regenerate with ``make docs``."""

import importlib
import json
from pathlib import Path

import pytest
from jietiao_shared.contracts import CONSUMERS
from jietiao_shared.service import create_app, describe

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _spec(service: str):  # type: ignore[no-untyped-def]
    return importlib.import_module(f"{service}.app").build_spec()


@pytest.mark.parametrize("service", ["agreements", "identity", "signing", "notify", "documents"])
def test_the_asyncapi_document_matches_the_code(service: str) -> None:
    written = json.loads((DOCS / "asyncapi" / f"{service}.json").read_text())
    assert written == json.loads(json.dumps(describe(_spec(service), "asyncapi"))), (
        "docs/asyncapi is out of date: run `make docs`"
    )


def test_the_gateway_openapi_document_matches_the_code() -> None:
    written = json.loads((DOCS / "openapi" / "gateway.json").read_text())
    assert written == json.loads(json.dumps(describe(_spec("gateway"), "openapi"))), (
        "docs/openapi is out of date: run `make docs`"
    )


def test_the_declared_consumers_are_exactly_those_the_services_read() -> None:
    """CONSUMERS (what the provisioning step creates) matches the services' code."""
    read = {
        (service, durable, subject)
        for service in ("agreements", "identity", "signing", "notify", "documents", "gateway")
        for subject, durable, _ in describe_consumers(service)
    }
    declared = {(c.service, c.durable, c.subject) for c in CONSUMERS}
    assert read == declared


def describe_consumers(service: str) -> list[tuple[str, str, str]]:
    app = create_app(_spec(service))
    return list(app.state.consumers.subscriptions)
