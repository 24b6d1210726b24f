"""The integration API end to end on the process stack: a key made by the operator command, a
context conversation set up through the gateway, and a host's system message delivered live."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from typing import Any

from parley.stack import ROOT
from parley_client import ParleyClient, ParleyError
from parley_common.schemas import ConversationRead


def create_key(database_url: str, name: str) -> str:
    """`parley integration-key create NAME` against chat's database, as an operator runs it."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "parley.cli",
            "integration-key",
            "--database-url",
            database_url,
            "create",
            name,
        ],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


async def put_context(host: ParleyClient, key: str, *args: Any, **kw: Any) -> ConversationRead:
    # chat learns of new users from auth's user.registered event; until then they are unknown
    # (404 "User not found"). Retry with a deadline until it knows them.
    deadline = time.monotonic() + 15
    while True:
        try:
            return await host.put_context(key, *args, **kw)
        except ParleyError as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


class TestIntegrationApi:
    async def test_participant_receives_the_system_message_live(
        self, stack: Any, connect: Any
    ) -> None:
        assert stack.stack is not None
        chat_db = stack.stack.config.database_urls["chat"]
        key = await asyncio.to_thread(create_key, chat_db, f"e2e-{uuid.uuid4().hex[:8]}")
        alice, bob = await stack.users(2)
        socket = await connect(bob, urls=[stack.gateway(1).replace("http", "ws", 1)])
        host = ParleyClient(stack.gateway_urls)
        try:
            job = f"job-{uuid.uuid4().hex[:8]}"
            conv = await put_context(
                host,
                key,
                "job",
                job,
                title="Clean the flat",
                participant_user_ids=[alice.user.id, bob.user.id],
                metadata={"address": "1 Main St"},
            )
            assert conv.context is not None and conv.context.id == job
            await socket.next_frame(
                "conversation_created", where=lambda f: f.conversation.id == conv.id
            )
            sent = await host.post_context_message(
                key,
                "job",
                job,
                kind="payment",
                content="Payment of 40 EUR received",
                metadata={"amount": 4000, "currency": "EUR"},
                idempotency_key="payment-1",
            )
            frame = await socket.next_frame(
                "new_message", where=lambda f: f.message.conversation_id == conv.id
            )
            assert frame.message.id == sent.id
            assert frame.message.type == "system" and frame.message.sender_id is None
            assert frame.message.kind == "payment"
            assert frame.message.metadata == {"amount": 4000, "currency": "EUR"}
            # A payment notifies every participant, live too.
            note = await socket.next_frame(
                "notification", where=lambda f: f.notification.type == "integration"
            )
            assert note.notification.data["message_id"] == sent.id
            # An end user's token is no integration key.
            try:
                await alice.request("GET", f"/integrations/contexts/job/{job}")
            except ParleyError as exc:
                assert exc.status == 401
            else:
                raise AssertionError("an end-user token worked on /integrations/")
        finally:
            await host.aclose()


async def notify_users(host: ParleyClient, key: str, body: dict[str, Any]) -> dict[str, Any]:
    # Like put_context: chat may not know just-registered users yet (404 until it does).
    deadline = time.monotonic() + 15
    while True:
        try:
            answer: dict[str, Any] = await host.request(
                "POST",
                "/integrations/notifications",
                json=body,
                headers={"Authorization": f"Bearer {key}"},
            )
            return answer
        except ParleyError as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


class TestHostNotifications:
    async def test_task_app_notifies_its_users(self, stack: Any, connect: Any) -> None:
        """A task app tells Bob a task is his: stored, live, counted by type, once per key, and
        not at all for a user who turned that type off."""
        assert stack.stack is not None
        chat_db = stack.stack.config.database_urls["chat"]
        key = await asyncio.to_thread(create_key, chat_db, f"tasks-{uuid.uuid4().hex[:8]}")
        alice, bob = await stack.users(2)
        r = await alice.request(
            "PUT",
            "/notifications/preferences",
            json={"channels": {"task.assigned": {"in_app": False}}},
        )
        assert r["channels"]["task.assigned"] == {"in_app": False, "email": True, "push": True}
        socket = await connect(bob)
        host = ParleyClient(stack.gateway_urls)
        body = {
            "user_ids": [alice.user.id, bob.user.id],
            "type": "task.assigned",
            "title": "Fix the sink",
            "body": "Due Friday",
            "link": "https://tasks.example.com/t/42",
            "data": {"task_id": 42},
            "idempotency_key": "task-42-assigned",
        }
        try:
            answer = await notify_users(host, key, body)
            assert answer["status"] == "accepted" and answer["type"] == "task.assigned"
            frame = await socket.next_frame(
                "notification", where=lambda f: f.notification.type == "task.assigned"
            )
            assert frame.notification.title == "Fix the sink"
            assert frame.notification.link == "https://tasks.example.com/t/42"
            assert frame.notification.data == {"task_id": 42}

            # The same key again: nothing new. A second type shows in the counts by type.
            await notify_users(host, key, body)
            await notify_users(
                host,
                key,
                {
                    **body,
                    "type": "task.commented",
                    "title": "New comment",
                    "user_ids": [bob.user.id],
                    "idempotency_key": "task-42-comment-1",
                },
            )
            await socket.next_frame(
                "notification", where=lambda f: f.notification.type == "task.commented"
            )
            tasks = await bob.request("GET", "/notifications", params={"type": "task."})
            assert sorted(n["type"] for n in tasks) == ["task.assigned", "task.commented"]
            only = await bob.request("GET", "/notifications", params={"type": "task.assigned"})
            assert [n["type"] for n in only] == ["task.assigned"]
            counts = await bob.request("GET", "/notifications/unread-count")
            assert counts["by_type"]["task.assigned"] == 1
            assert counts["by_type"]["task.commented"] == 1
            assert await alice.request("GET", "/notifications", params={"type": "task."}) == []

            # Bad input changes nothing.
            for bad in (
                {**body, "type": "Task Assigned"},
                {**body, "type": "assigned"},
                {**body, "link": "javascript:alert(1)"},
                {**body, "user_ids": []},
            ):
                try:
                    await notify_users(host, key, bad)
                except ParleyError as exc:
                    assert exc.status == 422, bad
                else:
                    raise AssertionError(f"accepted {bad}")
            try:
                await host.request(
                    "POST",
                    "/integrations/notifications",
                    json={**body, "user_ids": [10**12]},
                    headers={"Authorization": f"Bearer {key}"},
                )
            except ParleyError as exc:
                assert exc.status == 404 and exc.detail == "User not found"
            else:
                raise AssertionError("an unknown user was accepted")
            try:  # an end user's token is no integration key
                await bob.request("POST", "/integrations/notifications", json=body)
            except ParleyError as exc:
                assert exc.status == 401
            else:
                raise AssertionError("an end-user token worked on /integrations/notifications")
        finally:
            await host.aclose()
