"""Deleting an account on the process stack (issue 17): the socket closes with 4001, the user
can no longer log in, and afterwards no row of auth's, chat's or notify's PostgreSQL database
holds the user's name, address or id (table by table), except the ids that keep the others'
history readable: their messages (now from "Deleted user") and the tombstones. The export
and email-change links the user had stop working; a used link is refused too."""

from __future__ import annotations

import email
import json
import re
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as redis
from sqlalchemy.engine import make_url

from parley_client import ParleyClient, SocketClosed
from parley_client.testing import PASSWORD
from parley_common.testing.waiting import wait_for

from .conftest import E2E_REDIS_URL, Platform

#: Where the deleted user's id may stay: the tombstones, the messages the others keep (and
#: their memberships, which say up to which seq the others saw them). Not personal data: the
#: id names nobody any more.
KEPT_IDS = {
    ("auth", "users", "id"),
    ("chat", "users", "id"),
    ("notify", "users", "id"),
    ("chat", "messages", "sender_id"),
    ("chat", "attachments", "uploader_id"),  # the kept messages' files
    ("chat", "conversation_members", "user_id"),
}
ID_COLUMNS = {
    "user_id",
    "user_low",
    "user_high",
    "blocker_id",
    "blocked_id",
    "requester_id",
    "receiver_id",
    "uploader_id",
    "sender_id",
    "created_by",
}
#: Consumed event ids (no data) and the schema version.
SKIPPED_TABLES = {"processed_events", "alembic_version"}


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _leftovers(stack: Platform, user_id: int, needles: list[str]) -> list[str]:
    """Every (service, table, column) that still names the user."""
    found = []
    for service, url in stack.database_urls.items():
        conn = await asyncpg.connect(_dsn(url))
        try:
            tables = await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
            for (table,) in tables:
                if table in SKIPPED_TABLES:
                    continue
                for row in await conn.fetch(f'SELECT * FROM "{table}"'):
                    text = json.dumps(dict(row), default=str).casefold()
                    found += [f"{service}.{table}: {n}" for n in needles if n.casefold() in text]
                    columns = ID_COLUMNS | ({"id"} if table == "users" else set())
                    for column in columns & set(row.keys()):
                        if row[column] == user_id and (service, table, column) not in KEPT_IDS:
                            found.append(f"{service}.{table}.{column} = {user_id}")
        finally:
            await conn.close()
    return found


async def _scalar(stack: Platform, service: str, query: str, *args: Any) -> Any:
    conn = await asyncpg.connect(_dsn(stack.database_urls[service]))
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


def _mails(folder: Path, to: str) -> list[EmailMessage]:
    out: list[EmailMessage] = []
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
        assert isinstance(message, EmailMessage)  # what the default policy makes
        if message["To"] == to:
            out.append(message)
    return out


def _link_token(folder: Path, to: str, pattern: str) -> str | None:
    for message in _mails(folder, to):
        part = message.get_body(preferencelist=("plain",))
        match = re.search(pattern, str(part.get_content())) if part is not None else None
        if match:
            return match.group(1)
    return None


async def _presence_keys(user_id: int) -> list[str]:
    """Notify's presence keys (its default prefix) that name the user, and the online set."""
    store = redis.Redis.from_url(E2E_REDIS_URL, decode_responses=True)
    try:
        keys = [k async for k in store.scan_iter(match=f"parley:presence:*:{user_id}")]
        if await store.sismember("parley:presence:online", str(user_id)):
            keys.append("parley:presence:online")
        return keys
    finally:
        await store.aclose()


@pytest.mark.stack_only
async def test_deleting_an_account_leaves_nothing_of_it_but_the_others_history(
    stack: Platform, connect: Any
) -> None:
    assert stack.mail_dir is not None
    mail_dir = stack.mail_dir
    alice, bob, carol = await stack.friends(3, "gone")
    dave = await stack.user("gone")
    assert alice.user and bob.user and carol.user and dave.user
    me, address = alice.user.id, f"{alice.user.username}@example.com"
    await dave.block(me)
    group = await alice.create_group("trip", [bob.user.id, carol.user.id])
    direct = await alice.create_direct(bob.user.id)
    mine = await alice.send_message(direct.id, "a message of mine")
    await bob.send_message(direct.id, "a reply")
    await alice.send_message(group.id, "hello trip")
    await bob.add_reaction(mine.id, "👍")
    await alice.update_notification_preferences(digest="daily")
    socket = await connect(alice)

    # Links the account had: an export, an address change it never confirmed.
    http = httpx.AsyncClient(base_url=stack.gateway(0), timeout=30)
    auth = {"Authorization": f"Bearer {alice.access_token}"}
    assert (await http.post("/users/me/export", headers=auth)).status_code == 202
    r = await http.post(
        "/users/me/email", json={"email": f"new-{address}", "password": PASSWORD}, headers=auth
    )
    assert r.status_code == 202
    export_token = await wait_for(
        lambda: _link_token(mail_dir, address, r"/users/me/export/(\S+)"),
        timeout=30,
        message="the export email",
    )
    archive = await http.get(f"/users/me/export/{export_token}")
    assert archive.status_code == 200
    assert archive.headers["content-disposition"].startswith("attachment")
    assert [m["content"] for m in archive.json()["messages"]] == ["a message of mine", "hello trip"]
    change_token = await wait_for(
        lambda: _link_token(mail_dir, f"new-{address}", r"\?verify=(\S+)"),
        message="the email-change link",
    )

    r = await http.request("DELETE", "/users/me", json={"password": PASSWORD}, headers=auth)
    assert r.status_code == 204
    with pytest.raises(SocketClosed):
        await socket.next_frame("new_message", timeout=15)
    assert 4001 in socket.close_codes
    login = await http.post(
        "/auth/login", json={"username": alice.user.username, "password": PASSWORD}
    )
    assert login.status_code == 401

    async def everywhere() -> bool:
        chat = await _scalar(stack, "chat", "SELECT deleted_at FROM users WHERE id = $1", me)
        notify = await _scalar(stack, "notify", "SELECT deleted_at FROM users WHERE id = $1", me)
        return chat is not None and notify is not None

    await wait_for(everywhere, timeout=30, message="chat and notify handled user.deleted")
    needles = [alice.user.username, address]
    leftovers = await _leftovers(stack, me, needles)
    assert leftovers == [], "\n".join(leftovers)
    await wait_for(lambda: _equals(_presence_keys(me), []), message="presence forgotten")

    # The others keep their history, from "Deleted user".
    history = await bob.messages(direct.id)
    assert [(m.sender_username, m.content) for m in history] == [
        ("Deleted user", "a message of mine"),
        (bob.user.username, "a reply"),
    ]
    assert [f.id for f in await bob.friends()] == []
    members = (await bob.conversation(group.id)).members
    assert sorted(m.user.id for m in members) == sorted([bob.user.id, carol.user.id])

    # The links died with the account; a used link is refused too.
    assert (await http.get(f"/users/me/export/{export_token}")).status_code == 404
    refused = await http.post("/auth/verify", json={"token": change_token})
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_token")
    await _used_link_refused(http, bob, mail_dir)
    await http.aclose()


async def _used_link_refused(http: httpx.AsyncClient, bob: ParleyClient, mail_dir: Path) -> None:
    assert bob.user is not None
    new = f"moved-{bob.user.username}@example.com"
    r = await http.post(
        "/users/me/email",
        json={"email": new, "password": PASSWORD},
        headers={"Authorization": f"Bearer {bob.access_token}"},
    )
    assert r.json() == {"status": "pending", "pending_email": new}
    token = await wait_for(
        lambda: _link_token(mail_dir, new, r"\?verify=(\S+)"), message="bob's change link"
    )
    assert (await http.post("/auth/verify", json={"token": token})).status_code == 200
    assert (await bob.me()).email == new
    again = await http.post("/auth/verify", json={"token": token})
    assert (again.status_code, again.json()["code"]) == (400, "invalid_token")


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)
