"""No silent loss of live frames (issue: hot path). Once a socket has received `connected`,
every event published afterwards for its user and its conversations reaches it live, or the
socket is told to resume first. Raw `websockets` clients here: they never resume, so a live
frame that does not arrive is a lost frame.

These are load tests: they run on a stack of this module's own that coverage does not trace
(`untraced_stack`, tests/e2e/conftest.py), so the processes they start are not traced either."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from parley.stack import Process, free_port
from parley_client.testing import PASSWORD, unique_name
from parley_common.http import KEEPALIVE_EXPIRY
from parley_common.testing.plugin import AMQP_URL
from parley_common.testing.proxy import TcpProxy
from parley_common.testing.waiting import wait_for

pytestmark = pytest.mark.stack_only


def ws(url: str) -> str:
    return url.replace("http", "ws", 1)


async def recv_type(sock: ClientConnection, frame_type: str, timeout: float = 30) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            frame: dict[str, Any] = json.loads(await sock.recv())
            if frame["type"] == frame_type:
                return frame


async def open_socket(url: str, token: str) -> tuple[ClientConnection, list[dict[str, Any]]]:
    """A socket up to its `connected` frame, and the frames that came before it."""
    sock = await connect(f"{url}/ws/{token}", open_timeout=60, max_queue=None, ping_interval=None)
    before: list[dict[str, Any]] = []
    async with asyncio.timeout(60):
        while True:
            frame = json.loads(await sock.recv())
            if frame["type"] == "connected":
                return sock, before
            before.append(frame)


class Users:
    """Users registered straight through the REST API (fast, many at once)."""

    def __init__(self, base: str) -> None:
        # Idle connections kept under the gateway's 5 s keep-alive (see parley_common.http).
        limits = httpx.Limits(
            max_connections=64, max_keepalive_connections=32, keepalive_expiry=KEEPALIVE_EXPIRY
        )
        transport = httpx.AsyncHTTPTransport(limits=limits)
        self.http = httpx.AsyncClient(
            base_url=base, timeout=60, trust_env=False, transport=transport
        )
        self.gate = asyncio.Semaphore(32)

    async def new(self) -> tuple[int, str, str]:
        name = unique_name("live")
        async with self.gate:
            r = await self.http.post(
                "/auth/register",
                json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
            )
            r.raise_for_status()
            t = await self.http.post("/auth/login", json={"username": name, "password": PASSWORD})
            t.raise_for_status()
        return r.json()["id"], t.json()["access_token"], name

    async def call(self, token: str, method: str, path: str, **kw: Any) -> Any:
        async with self.gate:
            for _ in range(200):  # chat learns of a new user from auth's event, a moment later
                r = await self.http.request(
                    method, path, headers={"Authorization": f"Bearer {token}"}, **kw
                )
                if r.status_code != 404 or "User not found" not in r.text:
                    break
                await asyncio.sleep(0.05)
        r.raise_for_status()
        return r.json()

    async def group(self, members: list[tuple[int, str, str]]) -> int:
        """A group created by the first member: every other member asks to be friends, the
        creator accepts them all from one list of requests, then creates the group."""
        creator, creator_name = members[0][1], members[0][2]
        asked = {"username": creator_name}
        await asyncio.gather(
            *(self.call(t, "POST", "/friends/request", json=asked) for _, t, _ in members[1:])
        )
        requests = await self.call(creator, "GET", "/friends/requests")
        assert len(requests) == len(members) - 1
        await asyncio.gather(
            *(self.call(creator, "PUT", f"/friends/requests/{r['id']}/accept") for r in requests)
        )
        conv = await self.call(
            creator,
            "POST",
            "/conversations/groups",
            json={"name": "live", "member_user_ids": [m[0] for m in members[1:]]},
        )
        return int(conv["id"])

    async def aclose(self) -> None:
        await self.http.aclose()


@contextlib.asynccontextmanager
async def extra_gateway(stack: Any, **env: str) -> Any:
    """One more gateway replica of the stack, with its own settings (e.g. a slowed broker)."""
    base = stack.stack.processes["gateway-2"]
    name = f"gateway-{uuid.uuid4().hex[:6]}"
    process = Process(name, free_port(), {**base.env, "PARLEY_GATEWAY_ID": name, **env})
    process.start(stack.stack.log_dir)
    try:
        await asyncio.to_thread(process.wait_ready, 120)
        yield process
    finally:
        process.stop()


def broker_proxy(latency: float) -> tuple[TcpProxy, str]:
    host, port = AMQP_URL.split("@", 1)[1].split("/", 1)[0].split(":")
    proxy = TcpProxy(host, int(port), latency=latency)
    return proxy, AMQP_URL.replace(f"{host}:{port}", "127.0.0.1:{port}")


class TestConnectBurst:
    @pytest.mark.timeout(400)
    async def test_burst_of_500_then_messages_everywhere_with_a_slow_broker(
        self, untraced_stack: Any
    ) -> None:
        """500 sockets open, 50 at a time, through a gateway whose broker link adds 20 ms
        each way; right after the last `connected` every group gets messages. Every member's
        socket receives every message live."""
        proxy, url_template = broker_proxy(latency=0.02)
        await proxy.start()
        users = Users(untraced_stack.gateway_urls[0])
        try:
            t0 = time.monotonic()
            people = list(await asyncio.gather(*(users.new() for _ in range(500))))
            rooms = [people[i : i + 20] for i in range(0, 500, 20)]
            conversations = list(await asyncio.gather(*(users.group(room) for room in rooms)))
            print(f"setup {time.monotonic() - t0:.1f}s", flush=True)
            amqp = url_template.format(port=proxy.port)
            async with extra_gateway(untraced_stack, PARLEY_AMQP_URL=amqp) as gateway:
                gate = asyncio.Semaphore(50)
                sockets: dict[int, ClientConnection] = {}

                async def one(user_id: int, token: str) -> None:
                    async with gate:
                        sockets[user_id], _ = await open_socket(ws(gateway.url), token)

                await asyncio.gather(*(one(uid, token) for uid, token, _ in people))
                received: dict[int, set[str]] = {uid: set() for uid, _, _ in people}

                async def read(user_id: int, sock: ClientConnection) -> None:
                    with contextlib.suppress(Exception):
                        async for raw in sock:
                            frame = json.loads(raw)
                            if frame["type"] == "new_message":
                                received[user_id].add(frame["message"]["content"])

                readers = [asyncio.create_task(read(u, s)) for u, s in sockets.items()]
                sent: dict[int, list[str]] = {}
                for room, cid in zip(rooms, conversations, strict=True):
                    sender = sockets[room[0][0]]
                    sent[cid] = [f"{cid}:{i}" for i in range(3)]
                    for i, content in enumerate(sent[cid]):
                        frame = {
                            "type": "send_message",
                            "conversation_id": cid,
                            "content": content,
                            "client_msg_id": f"{cid}-{i}",
                        }
                        await sender.send(json.dumps(frame))
                expected = {
                    uid: set(sent[cid])
                    for room, cid in zip(rooms, conversations, strict=True)
                    for uid, _, _ in room
                }
                with contextlib.suppress(AssertionError):  # what is missing is reported below
                    await wait_for(
                        lambda: all(received[u] == expected[u] for u in expected),
                        timeout=60,
                        message="every live frame",
                    )
                missing = {
                    u: expected[u] - received[u] for u in expected if expected[u] - received[u]
                }
                assert not missing, f"{sum(map(len, missing.values()))} live frames never arrived"
                for task in readers:
                    task.cancel()
                await asyncio.gather(*(s.close() for s in sockets.values()), return_exceptions=True)
        finally:
            await users.aclose()
            await proxy.close()


class TestReconnectingUser:
    async def test_sockets_closing_and_reopening_miss_nothing_live(
        self, untraced_stack: Any
    ) -> None:
        """A user's sockets come and go (two at a time, each closing while the other opens)
        while a friend sends: after each `connected`, every message sent reaches it live."""
        users = Users(untraced_stack.gateway_urls[0])
        try:
            sender, churner = await users.new(), await users.new()
            cid = await users.group([sender, churner])
            url = ws(untraced_stack.gateway_urls[1])
            out, _ = await open_socket(ws(untraced_stack.gateway_urls[0]), sender[1])
            previous: ClientConnection | None = None
            for round_ in range(15):
                sock, _ = await open_socket(url, churner[1])
                if previous is not None:
                    await previous.close()  # the other socket goes while this one is live
                contents = [f"r{round_}-{i}" for i in range(3)]
                for i, content in enumerate(contents):
                    await out.send(
                        json.dumps(
                            {
                                "type": "send_message",
                                "conversation_id": cid,
                                "content": content,
                                "client_msg_id": f"r{round_}-{i}",
                            }
                        )
                    )
                got: list[str] = []
                while len(got) < 3:
                    got.append((await recv_type(sock, "new_message"))["message"]["content"])
                assert got == contents
                previous = sock
            await out.close()
            if previous is not None:
                await previous.close()
        finally:
            await users.aclose()


class TestSetupFailure:
    async def test_chat_down_at_connect_is_told_at_once_then_resume_required(
        self, untraced_stack: Any
    ) -> None:
        users = Users(untraced_stack.gateway_urls[0])
        chat = untraced_stack.stack.processes["chat"]
        proxy = await TcpProxy("127.0.0.1", chat.port).start()
        try:
            alice, bob = await users.new(), await users.new()
            cid = await users.group([alice, bob])
            chat_url = f"http://127.0.0.1:{proxy.port}"
            async with extra_gateway(untraced_stack, PARLEY_CHAT_URL=chat_url) as gateway:
                await proxy.cut()
                sock, before = await open_socket(ws(gateway.url), bob[1])
                errors = [f for f in before if f["type"] == "error"]
                assert errors and errors[0]["code"] == "unavailable" and errors[0]["retry_after"]
                await asyncio.sleep(2)
                await proxy.restore()
                started = time.monotonic()
                frame = await recv_type(sock, "resume_required", timeout=15)
                assert frame["reason"]
                assert time.monotonic() - started < 6.5  # retried at most 5 s apart
                sender, _ = await open_socket(ws(untraced_stack.gateway_urls[0]), alice[1])
                await sender.send(
                    json.dumps({"type": "send_message", "conversation_id": cid, "content": "back"})
                )
                assert (await recv_type(sock, "new_message"))["message"]["content"] == "back"
                await sender.close()
                await sock.close()
        finally:
            await users.aclose()
            await proxy.close()
