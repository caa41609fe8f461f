"""Database engines and the migration runner every service uses."""

import hashlib
import logging
from importlib import resources
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = logging.getLogger(__name__)


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An async SQLAlchemy engine on asyncpg."""
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def asyncpg_dsn(url: str) -> str:
    """The plain ``postgresql://`` form of a SQLAlchemy URL, for asyncpg."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def database_name(url: str) -> str:
    """The database a URL points at."""
    return urlsplit(url).path.lstrip("/")


async def ensure_database(url: str) -> None:
    """Create the URL's database if the server does not have it yet."""
    name = database_name(url)
    conn = await asyncpg.connect(asyncpg_dsn(_with_database(url, "postgres")))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname=$1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
            log.info("created database %s", name)
    finally:
        await conn.close()


def _scripts(package: str) -> list[tuple[str, str]]:
    folder = resources.files(package) / "migrations"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(f"{package}:{n}", (folder / n).read_text("utf-8")) for n in names]


async def migrate(url: str, packages: list[str]) -> list[str]:
    """Apply each package's ``migrations/*.sql`` not applied yet, in order.

    Runs under an advisory lock so that replicas started together migrate once.
    Returns the names of the scripts applied now.
    """
    await ensure_database(url)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    applied: list[str] = []
    lock_id = int(hashlib.sha256(b"jietiao-migrate").hexdigest()[:15], 16)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", lock_id)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for package in packages:
            for name, sql in _scripts(package):
                if name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
                applied.append(name)
                log.info("applied migration %s", name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", lock_id)
        await conn.close()
    return applied
