"""The key paths against the real chat service on PostgreSQL + RabbitMQ + Redis."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import websockets
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from chat.config import Settings as ChatSettings
from chat.main import create_app as create_chat
from gateway.main import create_app
from parley_common.bus import Delivery
from parley_common.events import UserRegistered, envelope, svc_key
from parley_common.runtime import runtime_of
from parley_common.testing.plugin import BusConfig
from parley_common.testing.tokens import TokenFactory

from .conftest import Server, connected, make_settings, recv, recv_until

INTERNAL = "test-internal-token"


async def register(chat_app: FastAPI, user_id: int) -> None:
    env = envelope(
        UserRegistered(
            user_id=user_id,
            username=f"user{user_id}",
            email=f"u{user_id}@example.com",
            created_at=datetime.now(UTC),
        ),
        producer="auth",
    )
    await (
        runtime_of(chat_app.state)
        .consumers[0]
        .handle(Delivery(svc_key(env.type), env.model_dump_json().encode(), str(env.id)))
    )


async def test_send_ack_fanout_and_resume_with_real_chat(
    pg_url: str, amqp: BusConfig, redis_url: str
) -> None:
    tokens = TokenFactory()
    chat_app = create_chat(
        ChatSettings(
            environment="test",
            database_url=pg_url,
            amqp_url=amqp.url,
            bus_exchange=amqp.exchange,
            bus_queue_prefix=amqp.queue_prefix,
            internal_token=INTERNAL,
            outbox_poll_seconds=0.2,
            notify_url="http://127.0.0.1:9",
            log_json=False,
        ),
        transports={"auth": tokens.transport()},
    )
    async with LifespanManager(chat_app, startup_timeout=30, shutdown_timeout=30):
        for uid in (1, 2, 3):
            await register(chat_app, uid)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(chat_app), base_url="http://c"
        ) as c:
            # Only friends can be put into a group: user 2 befriends user 1 first.
            auth1 = {"Authorization": f"Bearer {tokens.token(1, 'user1')}"}
            auth2 = {"Authorization": f"Bearer {tokens.token(2, 'user2')}"}
            await c.post("/friends/request", json={"username": "user2"}, headers=auth1)
            (request,) = (await c.get("/friends/requests", headers=auth2)).json()
            await c.put(f"/friends/requests/{request['id']}/accept", headers=auth2)
            r = await c.post(
                "/conversations",
                json={"type": "group", "name": "g", "member_user_ids": [2]},
                headers={"Authorization": f"Bearer {tokens.token(1, 'user1')}"},
            )
            assert r.status_code == 200, r.text
            cid = r.json()["id"]
        settings = make_settings(
            amqp_url=amqp.url,
            bus_exchange=amqp.exchange,
            bus_queue_prefix=amqp.queue_prefix,
            redis_url=redis_url,
            internal_token=INTERNAL,
        )
        app = create_app(
            settings, transports={"chat": httpx.ASGITransport(chat_app), "auth": tokens.transport()}
        )
        async with Server(app) as server:
            url = server.ws_url
            a = await websockets.connect(f"{url}/{tokens.token(1, 'user1')}")
            b = await websockets.connect(f"{url}/{tokens.token(2, 'user2')}")
            outsider = await websockets.connect(f"{url}/{tokens.token(3, 'user3')}")
            for ws in (a, b, outsider):
                await connected(ws)
            for i in range(3):
                await a.send(
                    json.dumps(
                        {
                            "type": "send_message",
                            "conversation_id": cid,
                            "content": f"m{i}",
                            "client_msg_id": f"c{i}",
                        }
                    )
                )
                assert (await recv_until(a, "ack", timeout=15))["client_msg_id"] == f"c{i}"
            seqs: list[int] = []
            while len(seqs) < 3:
                frame = await recv_until(b, "new_message", timeout=15)
                seqs.append(frame["message"]["seq"])
            assert sorted(seqs) == [1, 2, 3]
            await outsider.send(json.dumps({"type": "join_conversation", "conversation_id": cid}))
            assert (await recv(outsider))["type"] == "error"
            await b.send(json.dumps({"type": "resume", "cursors": {str(cid): 1}}))
            replay = []
            while (frame := await recv(b, timeout=10))["type"] != "resumed":
                if frame["type"] == "new_message":
                    replay.append(frame["message"]["content"])
            assert replay[-2:] == ["m1", "m2"]
            for ws in (a, b, outsider):
                await ws.close()
