"""Fixtures every test suite in the repository can use.

Real servers, started from their wheels on free loopback ports in throw-away
folders (see :mod:`jietiao_stack.testing`): one PostgreSQL for the session (each
suite uses its own databases) and one NATS per test module, so that durable
consumers of one suite never meet those of another. With
``JIETIAO_TEST_SERVERS=containers`` the same servers run in containers instead
(testcontainers, local images ``jietiao/postgres`` and ``jietiao/nats``, host
networking; ``make test-containers``).
"""

from collections.abc import Iterator

import pytest
from jietiao_stack.testing import (
    BackingServers,
    LocalNats,
    LocalPostgres,
    TestTokenIssuer,
    make_nats,
    make_postgres,
)


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """A real PostgreSQL server for this session."""
    server = make_postgres().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def nats_server() -> Iterator[LocalNats]:
    """A real JetStream NATS server for this test module."""
    server = make_nats().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def backing_servers(postgres: LocalPostgres, nats_server: LocalNats) -> BackingServers:
    """PostgreSQL and NATS together."""
    return BackingServers(postgres, nats_server)


@pytest.fixture(scope="session")
def token_issuer() -> Iterator[TestTokenIssuer]:
    """Signs session tokens and serves their key set, as identity would."""
    issuer = TestTokenIssuer().start()
    yield issuer
    issuer.stop()
