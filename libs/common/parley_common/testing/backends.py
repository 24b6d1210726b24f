"""The servers the tests need, found or started: PostgreSQL, RabbitMQ and Redis at the
`PARLEY_TEST_*` URLs when they answer; else, when a Docker engine answers, the three started
with testcontainers (pinned images, one set for the whole session); else the run stops at once
with one message naming both ways (plugin.py calls `ensure` before any test is collected).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# Pinned: a test run must not change because an image tag moved.
POSTGRES_IMAGE = "postgres:16.6-alpine"
RABBITMQ_IMAGE = "rabbitmq:3.13.7-management-alpine"
REDIS_IMAGE = "redis:7.4.1-alpine"

DEFAULT_PORTS = {"postgresql": 5432, "amqp": 5672, "redis": 6379}

NO_BACKENDS = """\
The tests need PostgreSQL, RabbitMQ and Redis, and none of the two ways to get them works:
  not answering: {missing}
Either
  1. run them yourself and point the tests at them with PARLEY_TEST_DATABASE_URL,
     PARLEY_TEST_AMQP_URL and PARLEY_TEST_REDIS_URL (defaults: the local servers on
     127.0.0.1:5432, :5672 and :6379; `bash .ci/run` starts them on Debian), or
  2. start a Docker engine (DOCKER_HOST, or the local socket): `make test` then runs the three
     in containers with testcontainers ({images}).
Docker engine: {docker}"""


def answers(url: str, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections at the URL's host and port."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    port = parts.port or DEFAULT_PORTS.get(scheme)
    if parts.hostname is None or port is None:
        return False
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def docker_engine() -> tuple[bool, str]:
    """(answers, why not): a ping through the Docker SDK that testcontainers uses."""
    try:
        import docker
    except ImportError:
        return False, "the docker package is not installed"
    try:
        client = docker.from_env(timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return False, f"does not answer ({type(exc).__name__})"
    return True, "answers"


@dataclass
class Containers:
    """The three servers in containers; `stop` ends only these."""

    urls: dict[str, str] = field(default_factory=dict)
    _running: list[Any] = field(default_factory=list)

    def start(self, redis_db: int) -> None:
        from testcontainers.postgres import PostgresContainer
        from testcontainers.rabbitmq import RabbitMqContainer
        from testcontainers.redis import RedisContainer

        try:
            pg = PostgresContainer(
                POSTGRES_IMAGE, username="postgres", password="postgres", driver="asyncpg"
            )
            self._running.append(pg.start())
            self.urls["database"] = pg.get_connection_url().rsplit("/", 1)[0] + "/postgres"
            mq = RabbitMqContainer(RABBITMQ_IMAGE)
            self._running.append(mq.start())
            host, port = mq.get_container_host_ip(), mq.get_exposed_port(5672)
            self.urls["amqp"] = f"amqp://guest:guest@{host}:{port}/"
            redis = RedisContainer(REDIS_IMAGE)
            self._running.append(redis.start())
            host, port = redis.get_container_host_ip(), redis.get_exposed_port(6379)
            self.urls["redis"] = f"redis://{host}:{port}/{redis_db}"
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        while self._running:
            with contextlib.suppress(Exception):
                self._running.pop().stop()


def ensure(
    urls: dict[str, str],
    *,
    fail: Callable[[str], Any],
    engine: Callable[[], tuple[bool, str]] = docker_engine,
) -> Containers | None:
    """None when every URL answers; containers when Docker can provide them; else `fail`
    (pytest.exit) with the message naming both ways."""
    missing = [f"{name} ({url})" for name, url in urls.items() if not answers(url)]
    if not missing:
        return None
    ok, why = engine()
    if not ok:
        images = ", ".join((POSTGRES_IMAGE, RABBITMQ_IMAGE, REDIS_IMAGE))
        fail(NO_BACKENDS.format(missing="; ".join(missing), images=images, docker=why))
        return None
    containers = Containers()
    redis_db = urlsplit(urls["redis"]).path.strip("/") or "15"
    containers.start(int(redis_db) if redis_db.isdigit() else 15)
    return containers
