"""`parley backup` / `parley backup --restore` on the real PostgreSQL: back up the three
databases, wipe them, restore, and every user, message and notification is there again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from parley.backup import SERVICES, main
from parley.migrate import migrate_service
from parley_common.testing.databases import create_database, drop_database
from parley_common.testing.plugin import PG_URL

TABLES = {"auth": "users", "chat": "messages", "notify": "notifications"}
SEED = {
    "auth": "INSERT INTO users (username, username_key, username_skeleton, email, email_key,"
    " password_hash, created_at, updated_at) VALUES ('ana', 'ana', 'ana', 'ana@example.com',"
    " 'ana@example.com', 'x', now(), now())",
    "chat": "INSERT INTO conversations (id, type, created_at, last_activity_at, last_seq,"
    " allow_member_add, allow_member_rename) VALUES (1, 'group', now(), now(), 1, false, true);"
    " INSERT INTO messages (id, conversation_id, seq, sender_id, sender_username, content,"
    " type, mentions, created_at, deleted) VALUES (1, 1, 1, 1, 'ana', 'remember this',"
    " 'text', '[]', now(), false)",
    "notify": "INSERT INTO notifications (user_id, type, title, body, is_read, created_at, data)"
    " VALUES (1, 'mention', 'ana mentioned you', 'remember this', false, now(), '{}')",
}


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def rows(url: str, table: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn(url))
    try:
        return [dict(r) for r in await conn.fetch(f"SELECT * FROM {table} ORDER BY 1")]  # nosec B608
    finally:
        await conn.close()


async def test_backup_wipe_restore_finds_everything_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = {s: await create_database(PG_URL, prefix=f"parley_backup_{s}") for s in SERVICES}
    try:
        for service, url in urls.items():
            monkeypatch.setenv(f"PARLEY_{service.upper()}_DATABASE_URL", url)
            await migrate_service(service, url)
            conn = await asyncpg.connect(dsn(url))
            try:
                await conn.execute(SEED[service])
            finally:
                await conn.close()
        before = {s: await rows(url, TABLES[s]) for s, url in urls.items()}
        assert all(len(r) == 1 for r in before.values())

        # The command runs its own event loop: in a thread of its own, as from a shell.
        await asyncio.to_thread(main, [str(tmp_path / "backup")])
        assert sorted(p.name for p in (tmp_path / "backup").iterdir()) == [
            "auth.dump",
            "chat.dump",
            "notify.dump",
        ]
        for url in urls.values():  # the disaster: every database gone
            await drop_database(PG_URL, url)
        await asyncio.to_thread(main, ["--restore", str(tmp_path / "backup")])
        after = {s: await rows(url, TABLES[s]) for s, url in urls.items()}
        assert after == before
        assert after["chat"][0]["content"] == "remember this"
    finally:
        for url in urls.values():
            await drop_database(PG_URL, url)
