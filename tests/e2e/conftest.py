"""End-to-end fixtures: the whole platform as real processes, driven through parley_client.

- `stack`: auth, chat, notify and TWO gateway replicas (uvicorn processes, `parley.stack`)
  on the real PostgreSQL (fresh databases), RabbitMQ (an exchange and queue prefix of this
  run) and Redis (db 14, flushed); logs under test-results/e2e-logs/.
- `embedded`: `python -m parley.embedded` in a subprocess (SQLite, in-process bus and store).
- `platform`: the protocol tests run once per mode ("both modes pass the same e2e tests").

Both are session-scoped and torn down at exit; only processes started here are stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from parley.stack import ROOT, Process, Stack, StackConfig, free_port, spawn_embedded
from parley_client import ParleyClient
from parley_client import socket as client_socket
from parley_client.testing import befriend, new_user
from parley_common.testing.asyncapi_frames import FrameChecker
from parley_common.testing.coverage import paused as coverage_paused
from parley_common.testing.coverage import untraced_children
from parley_common.testing.databases import create_database, drop_database
from parley_common.testing.exchanges import delete_exchanges
from parley_common.testing.plugin import AMQP_URL, PG_URL, REDIS_URL, redis_db_below
from parley_common.testing.s3 import S3Server

LOG_DIR = ROOT / "test-results" / "e2e-logs"
# The plugin gives each xdist worker four Redis databases: REDIS_URL's for the services' own
# tests, and one per stack these tests start, so that equal user ids of two stacks never meet.
E2E_REDIS_URL = redis_db_below(REDIS_URL, 1)
UNTRACED_REDIS_URL = redis_db_below(REDIS_URL, 2)
UPGRADE_REDIS_URL = redis_db_below(REDIS_URL, 3)

# Settings every mode gets: cheap password hashing, and rate limits out of the way of tests
# that send hundreds of messages from one user (the limits themselves are the services' tests).
E2E_ENV = {
    "PARLEY_ENVIRONMENT": "development",
    "PARLEY_ARGON2_TIME_COST": "1",
    "PARLEY_ARGON2_MEMORY_COST": "1024",
    "PARLEY_ARGON2_PARALLELISM": "1",
    "PARLEY_WS_SEND_RATE": "2000",
    "PARLEY_WS_SEND_BURST": "2000",
    "PARLEY_REST_RATE": "5000",
    "PARLEY_REST_BURST": "5000",
    "PARLEY_LOGIN_MAX_FAILURES_PER_ADDRESS": "1000",
    "PARLEY_LOG_LEVEL": "WARNING",
    # At most 10 connections per process (5 + 5 overflow): two xdist workers, each with up to
    # two stacks of three services, stay under PostgreSQL's default max_connections of 100.
    "PARLEY_DB_POOL_SIZE": "5",
    "PARLEY_OUTBOX_POLL_SECONDS": "0.2",
    # Replays up to 250 messages; a larger gap gets resync_required (tested with 251).
    "PARLEY_RESUME_MAX_MESSAGES": "250",
    # Access tokens live 60 minutes: announce their expiry 10 s after they are issued, so that
    # token_expiring and the client's refresh + `auth` frame run in every long test.
    "PARLEY_TOKEN_EXPIRING_SECONDS": "3590",
    # A `parley keys rotate` reaches auth within a second, and a retired key leaves every
    # service's JWKS cache within two (tests/e2e/test_key_rotation.py).
    "PARLEY_KEY_RELOAD_SECONDS": "1",
    "PARLEY_JWKS_MAX_AGE_SECONDS": "2",
}


@dataclass
class Platform:
    """A running Parley: the gateway URL(s) clients may use, and the stack when there is one."""

    mode: str
    gateway_urls: list[str]
    stack: Stack | None = None
    auth_database_url: str | None = None
    data_dir: Path | None = None
    #: The services' PostgreSQL URLs and the folder emails are written to (stack mode).
    database_urls: dict[str, str] = field(default_factory=dict)
    mail_dir: Path | None = None
    clients: list[ParleyClient] = field(default_factory=list)

    async def signing_key_pem(self) -> tuple[str, str]:
        """(kid, private key PEM) of auth's newest signing key, read from auth's database, to
        forge tokens a client could never get (expired, foreign claims)."""
        query = "SELECT kid, private_key_pem FROM signing_keys ORDER BY created_at DESC LIMIT 1"
        if self.auth_database_url is not None:
            import asyncpg
            from sqlalchemy.engine import make_url

            dsn = make_url(self.auth_database_url).set(drivername="postgresql")
            conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
            try:
                row = await conn.fetchrow(query)
            finally:
                await conn.close()
            return row["kid"], _unsealed(row["private_key_pem"])
        import sqlite3

        assert self.data_dir is not None
        with contextlib.closing(sqlite3.connect(self.data_dir / "auth.db")) as db:
            kid, pem = db.execute(query).fetchone()
        return kid, _unsealed(pem)

    async def user(self, prefix: str = "u", *, urls: list[str] | None = None) -> ParleyClient:
        """A freshly registered, logged-in user (closed at the end of the session)."""
        client = await new_user(urls or self.gateway_urls, prefix)
        self.clients.append(client)
        return client

    async def users(self, n: int, prefix: str = "u") -> list[ParleyClient]:
        return list(await asyncio.gather(*(self.user(prefix) for _ in range(n))))

    async def friends(self, n: int, prefix: str = "u") -> list[ParleyClient]:
        """`n` users who are all friends of the first."""
        users = await self.users(n, prefix)
        await asyncio.gather(*(befriend(users[0], other) for other in users[1:]))
        return users

    def gateway(self, i: int) -> str:
        """The URL of gateway replica `i` (the one gateway of the embedded mode for any i)."""
        return self.gateway_urls[i % len(self.gateway_urls)]

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.clients), return_exceptions=True)
        self.clients.clear()


def _wait_http(url: str, popen: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"{url} exited with {popen.returncode}; see {log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=1, trust_env=False).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} not healthy after {timeout}s; see {log}")


async def _flush_redis(url: str) -> None:
    import redis.asyncio as redis

    client = redis.Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
async def stack(s3_server: S3Server) -> AsyncIterator[Platform]:
    """auth, chat, notify and two gateway replicas as processes on the real backends, with
    uploads in an S3 bucket (a moto server process; the embedded mode stores them as files)."""
    async with running_stack(s3_server, E2E_REDIS_URL) as platform:
        yield platform


@pytest.fixture(scope="module")
async def untraced_stack(s3_server: S3Server) -> AsyncIterator[Platform]:
    """A stack of the module's own whose processes (and any its tests start) `make test`'s
    coverage does not measure, nor this process meanwhile: for the load tests of
    test_live_delivery.py. Traced, ~2,000 REST calls and 500 sockets took twice the CPU (195 s
    of a CI run; 66 s alone untraced), and the functional tests measure the same code."""
    with coverage_paused(), untraced_children():
        async with running_stack(s3_server, UNTRACED_REDIS_URL) as platform:
            yield platform


@contextlib.asynccontextmanager
async def running_stack(s3_server: S3Server, redis_url: str) -> AsyncIterator[Platform]:
    """A stack on its own databases, exchange and Redis database (flushed before and after)."""
    run = uuid.uuid4().hex[:8]
    urls = {}
    for name in ("auth", "chat", "notify"):
        urls[name] = await create_database(PG_URL, prefix=f"parley_e2e_{name}")
    await _flush_redis(redis_url)
    mail_dir = Path(tempfile.mkdtemp(prefix="parley-e2e-mail-"))
    ports = {name: free_port() for name in ("auth", "chat", "notify", "gateway", "gateway-2")}
    config = StackConfig(
        database_urls=urls,
        amqp_url=AMQP_URL,
        redis_url=redis_url,
        smtp_url=f"file://{mail_dir}",
        bus_exchange=f"parley.e2e.{run}",
        bus_queue_prefix=f"e2e.{run}.",
        internal_token=f"e2e-{run}",
        gateways=2,
        ports=ports,
        extra_env=E2E_ENV | _storage_env(s3_server),
    )
    log_dir = LOG_DIR / f"stack-{run}"
    platform_stack = Stack(config, log_dir=log_dir)
    try:
        # Five interpreters importing at once on a small CI machine take a while.
        await asyncio.to_thread(platform_stack.start, 180)
        platform = Platform(
            "stack",
            [g.url for g in platform_stack.gateways],
            platform_stack,
            auth_database_url=urls["auth"],
            database_urls=dict(urls),
            mail_dir=mail_dir,
        )
        yield platform
        await platform.aclose()
    finally:
        await asyncio.to_thread(platform_stack.stop)
        for url in urls.values():
            with contextlib.suppress(Exception):
                await drop_database(PG_URL, url)
        await _flush_redis(redis_url)
        await delete_exchanges(AMQP_URL, config.bus_exchange)
        shutil.rmtree(mail_dir, ignore_errors=True)


def _storage_env(s3_server: S3Server) -> dict[str, str]:
    return {f"PARLEY_{k.upper()}": v for k, v in s3_server.settings().items()}


@pytest.fixture(scope="session")
async def embedded() -> AsyncIterator[Platform]:
    """The one-process mode: `python -m parley.embedded` with a throwaway data directory."""
    data_dir = Path(tempfile.mkdtemp(prefix="parley-e2e-embedded-"))
    port = free_port()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"embedded-{port}.log"
    popen = spawn_embedded(port, data_dir, log, E2E_ENV)
    process = Process("embedded", port, {}, popen=popen, log_path=log)
    try:
        await asyncio.to_thread(_wait_http, process.url, popen, log, 180)
        platform = Platform("embedded", [process.url], data_dir=data_dir)
        yield platform
        await platform.aclose()
    finally:
        process.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session", params=["stack", "embedded"])
def platform(request: pytest.FixtureRequest) -> Platform:
    """Each protocol test runs against both modes."""
    # pytest types fixture values as Any; both params name a Platform fixture.
    return cast(Platform, request.getfixturevalue(request.param))


@pytest.fixture
def sockets() -> Iterator[list[Any]]:
    """Sockets a test opened, closed after it (register with `sockets.append`)."""
    opened: list[Any] = []
    yield opened


@pytest.fixture
async def connect(sockets: list[Any]) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """`await connect(client, **socket_options)`: a socket closed when the test ends."""

    async def open_socket(client: ParleyClient, **options: Any) -> Any:
        # Generous deadlines: CI machines running several suites at once are slow, and a
        # deadline only costs time when something is really missing.
        options.setdefault("default_timeout", 30.0)
        options.setdefault("open_timeout", 30.0)
        socket = await client.connect(**options)
        sockets.append(socket)
        return socket

    yield open_socket
    await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    for socket in sockets:
        assert not socket.invalid_frames, (
            f"frames not matching PROTOCOL.md: {socket.invalid_frames}"
        )


@pytest.fixture(scope="session")
def frame_checker() -> Iterator[FrameChecker]:
    """Every server frame a parley_client socket receives in these tests is checked against
    docs/asyncapi.json as well as the models (issue 14)."""
    checker = FrameChecker.from_file(ROOT / "docs" / "asyncapi.json")
    original = client_socket.parse_server_frame

    def checked_parse(data: Any) -> Any:
        checker.check(data)
        return original(data)

    client_socket.parse_server_frame = checked_parse
    yield checker
    client_socket.parse_server_frame = original


@pytest.fixture(autouse=True)
def frames_match_asyncapi(frame_checker: FrameChecker) -> Iterator[None]:
    before = len(frame_checker.failures)
    yield
    new = frame_checker.failures[before:]
    assert not new, "frames not described by docs/asyncapi.json:\n" + "\n".join(new)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "stack_only: needs separate processes (replica failover, SIGKILL, broker cut); "
        "runs against the process stack only",
    )


def _unsealed(stored: str) -> str:
    """The PEM of a stored signing key (sealed with the key encryption key auth runs with:
    the same environment as this test's)."""
    from auth.config import Settings
    from auth.keys import KeyVault

    return KeyVault(Settings().key_encryption_key).open(stored)
