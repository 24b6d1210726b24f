"""pytest fixtures on the real servers: a fresh PostgreSQL database, an isolated exchange and
queue prefix on RabbitMQ, a Redis database; URLs from `PARLEY_TEST_*` (default: local ones).

Loaded for the whole workspace through `-p parley_common.testing.plugin` (root pyproject).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from . import backends
from .databases import create_database, drop_database, drop_templates, migrated_database
from .exchanges import delete_exchanges
from .s3 import s3_server  # noqa: F401 - a fixture of the plugin

PG_URL = os.environ.get(
    "PARLEY_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
AMQP_URL = os.environ.get("PARLEY_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def redis_db_below(url: str, below: int) -> str:
    """The URL of the Redis database `below` numbers under the URL's."""
    base, _, db = url.rpartition("/")
    number = (int(db) if db.isdigit() else 0) - below
    if number < 0:
        raise RuntimeError(f"no Redis database {below} below {url}")
    return f"{base}/{number}"


def worker_redis_url(url: str) -> str:
    """The Redis database this test process may flush: under pytest-xdist each worker gets its
    own, four below the previous worker's (the e2e stack takes the one below it)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return redis_db_below(url, 4 * int(worker[2:]) if worker[2:].isdigit() else 0)


REDIS_URL = worker_redis_url(os.environ.get("PARLEY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))

# Every test run declares and deletes a few hundred durable queues. As quorum queues each is a
# Raft group with its own fsyncs, which made the shared broker take tens of seconds per
# connection under load; classic queues keep the suite fast. The quorum behaviour (delivery
# limit, dead-lettering) has its own tests in libs/common/tests/test_bus.py. Services read it
# through their settings (`bus_queue_type`); processes the tests start inherit the variable.
TEST_QUEUE_TYPE = "classic"
os.environ.setdefault("PARLEY_BUS_QUEUE_TYPE", TEST_QUEUE_TYPE)
# A test process starts hundreds of apps: freezing at each start would keep every earlier
# test's garbage for good. Service processes the tests start inherit it too.
os.environ.setdefault("PARLEY_GC_FREEZE", "false")

_containers: backends.Containers | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Before anything is collected: the servers answer, or testcontainers starts them (and the
    URLs above point at those), or the run stops here with one message (backends.py)."""
    global PG_URL, AMQP_URL, REDIS_URL, _containers
    if config.option.help or config.option.version:
        return
    urls = {"database": PG_URL, "amqp": AMQP_URL, "redis": REDIS_URL}
    _containers = backends.ensure(urls, fail=lambda msg: pytest.exit(msg, returncode=4))
    if _containers is not None:
        PG_URL, AMQP_URL, REDIS_URL = (
            _containers.urls["database"],
            _containers.urls["amqp"],
            _containers.urls["redis"],
        )
        os.environ["PARLEY_TEST_DATABASE_URL"] = PG_URL
        os.environ["PARLEY_TEST_AMQP_URL"] = AMQP_URL
        os.environ["PARLEY_TEST_REDIS_URL"] = REDIS_URL


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.option.help or config.option.version:
        return
    with contextlib.suppress(OSError, asyncpg.PostgresError):
        asyncio.run(drop_templates(PG_URL))
    if _containers is not None:
        _containers.stop()


@dataclass(frozen=True)
class BusConfig:
    url: str
    exchange: str
    queue_prefix: str
    queue_type: str = TEST_QUEUE_TYPE


@pytest.fixture
async def empty_pg_url() -> AsyncIterator[str]:
    """A fresh, empty database for one test, dropped afterwards; also where `pg_url` is
    overridden (migration tests)."""
    async with fresh_database() as url:
        yield url


@pytest.fixture
def pg_url(empty_pg_url: str) -> str:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards. A service's tests
    may override it with `migrated_pg_url(MIGRATIONS)`, databases already migrated."""
    return empty_pg_url


def migrated_pg_url(migrations: Path) -> Any:
    """A `pg_url` fixture for a service's tests: each test's fresh database is already at the
    newest revision of `migrations` (a copy of a template migrated once per test process), so
    the app's start-up migration has nothing to do. `empty_pg_url` stays for a test that
    migrates itself. In a conftest: `pg_url = migrated_pg_url(MIGRATIONS)`."""

    @pytest.fixture(name="pg_url")
    async def fixture() -> AsyncIterator[str]:
        async with fresh_database(migrations) as url:
            yield url

    return fixture


@contextlib.asynccontextmanager
async def fresh_database(migrations: Path | None = None) -> AsyncIterator[str]:
    """A database of its own, empty or at the newest revision of `migrations`; dropped after."""
    if migrations is None:
        url = await create_database(PG_URL)
    else:
        url = await migrated_database(PG_URL, migrations)
    try:
        yield url
    finally:
        await drop_database(PG_URL, url)


@pytest.fixture
async def amqp() -> AsyncIterator[BusConfig]:
    """A RabbitMQ exchange and queue prefix no other test run uses; the exchange is deleted
    after the test."""
    run = uuid.uuid4().hex[:10]
    config = BusConfig(AMQP_URL, f"parley.test.{run}", f"test.{run}.")
    yield config
    await delete_exchanges(AMQP_URL, config.exchange)


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """A Redis database, flushed before and after the test."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    await client.flushdb()
    try:
        yield REDIS_URL
    finally:
        await client.flushdb()
        await client.aclose()
