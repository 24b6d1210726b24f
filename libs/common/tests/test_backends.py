"""The test servers are found, started with Docker, or the run stops with one message naming
both ways (parley_common/testing/backends.py). No Docker engine here: the message path."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from parley_common.testing import backends
from parley_common.testing.plugin import AMQP_URL, PG_URL, REDIS_URL

ROOT = Path(__file__).resolve().parents[3]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


class Stop(Exception):
    pass


def _fail(message: str) -> None:
    raise Stop(message)


class TestEnsure:
    def test_answering_urls_need_nothing_else(self) -> None:
        def engine() -> tuple[bool, str]:
            raise AssertionError("Docker is not asked when the servers answer")

        urls = {"database": PG_URL, "amqp": AMQP_URL, "redis": REDIS_URL}
        assert backends.ensure(urls, fail=_fail, engine=engine) is None

    def test_neither_way_stops_with_one_message_naming_both(self) -> None:
        dead = f"redis://127.0.0.1:{closed_port()}/15"
        urls = {"database": PG_URL, "amqp": AMQP_URL, "redis": dead}
        with pytest.raises(Stop) as stopped:
            backends.ensure(urls, fail=_fail, engine=lambda: (False, "does not answer"))
        message = str(stopped.value)
        assert f"redis ({dead})" in message
        assert "PARLEY_TEST_DATABASE_URL" in message and "Docker engine" in message
        assert backends.POSTGRES_IMAGE in message
        assert "database (" not in message  # only what does not answer is named

    def test_docker_engine_is_asked_through_the_sdk(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{closed_port()}")
        ok, why = backends.docker_engine()
        assert not ok and "does not answer" in why


def test_pytest_stops_at_once_without_servers_or_docker(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PARLEY_TEST_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/x",
        "DOCKER_HOST": f"tcp://127.0.0.1:{closed_port()}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--co", "tests/test_docs.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 4, output[-3000:]
    assert output.count("none of the two ways") == 1, output[-3000:]
    assert "PARLEY_TEST_AMQP_URL" in output and "testcontainers" in output
    assert "test_docs" not in output.split("none of the two ways")[0]  # nothing collected first
