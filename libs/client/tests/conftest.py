"""A small in-test fake of the gateway's WebSocket side, enough to drive the client's
reconnect, resume, failover and dedupe logic deterministically."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response


def message(
    cid: int, seq: int, content: str = "", client_msg_id: str | None = None
) -> dict[str, Any]:
    return {
        "id": cid * 100_000 + seq,
        "conversation_id": cid,
        "seq": seq,
        "sender_id": 1,
        "sender_username": "alice",
        "content": content or f"m{seq}",
        "client_msg_id": client_msg_id,
        "created_at": datetime.now(UTC).isoformat(),
    }


class FakeGateway:
    """Accepts `/ws/<token>` for tokens in `valid_tokens`; keeps messages per conversation;
    answers ping, send_message (ack + new_message to everyone) and resume (replay + resumed)."""

    def __init__(self, valid_tokens: set[str] | None = None) -> None:
        self.valid_tokens = valid_tokens if valid_tokens is not None else {"good"}
        self.conversations: dict[int, list[dict[str, Any]]] = {}
        self.connections: list[ServerConnection] = []
        self.received: list[dict[str, Any]] = []
        self.accepted = 0
        self.server: Server | None = None
        self.port = 0
        self.on_frame: Callable[[ServerConnection, dict[str, Any]], Awaitable[bool]] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> FakeGateway:
        self.server = await serve(
            self._handler, "127.0.0.1", self.port, process_request=self._check
        )
        self.port = next(iter(self.server.sockets)).getsockname()[1]
        return self

    async def stop(self) -> None:
        """Goes away abruptly, like a killed process: sockets aborted, port closed."""
        assert self.server is not None
        self.server.close(close_connections=False)
        for ws in list(self.connections):
            ws.transport.abort()
        await self.server.wait_closed()

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        token = request.path.rsplit("/", 1)[-1]
        if token not in self.valid_tokens:
            return Response(403, "Forbidden", Headers(), b"bad token")
        return None

    def add(self, cid: int, content: str = "", client_msg_id: str | None = None) -> dict[str, Any]:
        log = self.conversations.setdefault(cid, [])
        msg = message(cid, len(log) + 1, content, client_msg_id)
        log.append(msg)
        return msg

    async def broadcast(self, frame: dict[str, Any]) -> None:
        data = json.dumps(frame)
        for ws in list(self.connections):
            with contextlib.suppress(Exception):
                await ws.send(data)

    async def close_all(self, code: int, reason: str = "") -> None:
        for ws in list(self.connections):
            await ws.close(code, reason)

    async def _handler(self, ws: ServerConnection) -> None:
        self.accepted += 1
        self.connections.append(ws)
        try:
            await ws.send(
                json.dumps(
                    {
                        "type": "connected",
                        "message": "WebSocket connected successfully",
                        "user_id": 1,
                        "session_id": "s",
                        "heartbeat_interval": 30,
                    }
                )
            )
            async for raw in ws:
                frame = json.loads(raw)
                self.received.append(frame)
                if self.on_frame is not None and await self.on_frame(ws, frame):
                    continue
                await self._answer(ws, frame)
        except Exception:
            pass
        finally:
            self.connections.remove(ws)

    async def _answer(self, ws: ServerConnection, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "ping":
            await ws.send(json.dumps({"type": "pong"}))
        elif kind == "send_message":
            cid = frame["conversation_id"]
            existing = [
                m
                for m in self.conversations.get(cid, [])
                if m["client_msg_id"] == frame["client_msg_id"]
            ]
            msg = (
                existing[0] if existing else self.add(cid, frame["content"], frame["client_msg_id"])
            )
            await ws.send(
                json.dumps({"type": "ack", "client_msg_id": frame["client_msg_id"], "message": msg})
            )
            if not existing:
                await self.broadcast({"type": "new_message", "message": msg})
        elif kind == "resume":
            for cid, last in frame["cursors"].items():
                for msg in self.conversations.get(int(cid), []):
                    if msg["seq"] > last:
                        await ws.send(json.dumps({"type": "new_message", "message": msg}))
            await ws.send(json.dumps({"type": "resumed"}))


@pytest.fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    fake = await FakeGateway().start()
    try:
        yield fake
    finally:
        with contextlib.suppress(Exception):
            await fake.stop()


@pytest.fixture
def make_gateway() -> type[FakeGateway]:
    return FakeGateway


@pytest.fixture
def fake_message() -> Callable[..., dict[str, Any]]:
    return message
