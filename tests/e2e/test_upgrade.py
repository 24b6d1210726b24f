"""A rolling upgrade keeps old replicas serving on the new schema: the databases are migrated
with this checkout's migrations (`make migrate`, the first step of an upgrade), then the
previous release's auth, chat, notify and gateway (deploy/previous-release, exported from git
history) run against them, and two users register, log in, become friends, write to each
other over the WebSocket and read."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from parley.migrate import migrate_service
from parley.stack import Stack, StackConfig, free_port
from parley_client import ParleyClient
from parley_client.testing import befriend, new_user
from parley_common.testing import previous_release
from parley_common.testing.coverage import untraced_children
from parley_common.testing.databases import create_database, drop_database
from parley_common.testing.exchanges import delete_exchanges
from parley_common.testing.plugin import AMQP_URL, PG_URL

from .conftest import (
    E2E_ENV,
    LOG_DIR,
    UPGRADE_REDIS_URL,
    _flush_redis,
)

pytestmark = pytest.mark.stack_only


def _imported_from(tree: Path, env: dict[str, str]) -> list[str]:
    """Where the services' packages are imported from with `env`, run in `tree`."""
    # Where the imports resolve, without paying for importing them.
    code = (
        "from importlib.util import find_spec; "
        "print(*(find_spec(m).origin for m in ('auth', 'chat', 'notify', 'gateway', 'parley_common')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tree,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.split()


@pytest.fixture(scope="module")
async def previous_stack() -> AsyncIterator[list[str]]:
    """The previous release's four services on databases migrated by the current code; the
    gateway's URL."""
    try:
        tree = previous_release.export(Path(tempfile.mkdtemp(prefix="parley-previous-")))
    except previous_release.MissingHistory as exc:
        pytest.fail(str(exc))
    run = uuid.uuid4().hex[:8]
    urls = {
        s: await create_database(PG_URL, prefix=f"parley_up_{s}")
        for s in ("auth", "chat", "notify")
    }
    env = {
        **E2E_ENV,
        "PYTHONPATH": previous_release.pythonpath(tree),
        # As on Kubernetes: the schema is the migration Job's business, and the old code would
        # not know the new revisions.
        "PARLEY_AUTO_MIGRATE": "false",
    }

    async def migrate_all() -> None:
        # The NEW code's `alembic upgrade head` (make migrate); one at a time: alembic's
        # `op` and `context` are module globals.
        for service, url in urls.items():
            await migrate_service(service, url)

    origins, _ = await asyncio.gather(asyncio.to_thread(_imported_from, tree, env), migrate_all())
    assert all(path.startswith(str(tree)) for path in origins), origins
    config = StackConfig(
        database_urls=urls,
        amqp_url=AMQP_URL,
        redis_url=UPGRADE_REDIS_URL,
        smtp_url=f"file://{tree / 'var' / 'mail'}",
        bus_exchange=f"parley.up.{run}",
        bus_queue_prefix=f"up.{run}.",
        internal_token=f"up-{run}",
        gateways=1,
        ports={name: free_port() for name in ("auth", "chat", "notify", "gateway")},
        extra_env=env,
        cwd=tree,
    )
    stack = Stack(config, log_dir=LOG_DIR / f"previous-release-{run}")
    await _flush_redis(UPGRADE_REDIS_URL)
    try:
        # Coverage measures this checkout's code, not the previous release's.
        with untraced_children():
            await asyncio.to_thread(stack.start, 120)
        yield [g.url for g in stack.gateways]
    finally:
        await asyncio.gather(*(asyncio.to_thread(p.stop) for p in stack.processes.values()))
        for url in urls.values():
            with contextlib.suppress(Exception):
                await drop_database(PG_URL, url)
        await delete_exchanges(AMQP_URL, config.bus_exchange)
        shutil.rmtree(tree, ignore_errors=True)


async def test_the_previous_release_runs_on_the_new_schema(
    previous_stack: list[str], connect: Any
) -> None:
    clients: list[ParleyClient] = []
    try:
        alice, bob = await asyncio.gather(
            new_user(previous_stack, "old"), new_user(previous_stack, "old")
        )
        clients += [alice, bob]
        assert alice.user is not None and bob.user is not None
        await befriend(alice, bob)
        sa, sb = await connect(alice), await connect(bob)

        ack = await sa.ack(await sa.send_message(None, "still here", recipient_id=bob.user.id))
        conversation_id = ack.message.conversation_id
        got = await sb.next_frame("new_message", where=lambda f: f.message.id == ack.message.id)
        assert got.message.content == "still here"

        await sb.mark_read(conversation_id, got.message.seq)
        receipt = await sa.next_frame(
            "read_receipt", where=lambda f: f.conversation_id == conversation_id
        )
        assert (receipt.user_id, receipt.seq) == (bob.user.id, got.message.seq)
        page = await bob.messages(conversation_id)
        assert [m.content for m in page] == ["still here"]
    finally:
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)
