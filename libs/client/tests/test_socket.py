"""Reconnect, resume, failover and dedupe logic of `Socket` against an in-test fake gateway."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from parley_client import ParleyClient, ParleyError, SocketClosed
from parley_common.frames import NewMessageFrame


def client_for(*urls: str, **kwargs: Any) -> ParleyClient:
    http = [u.replace("ws://", "http://") for u in urls]
    return ParleyClient(http, access_token=kwargs.pop("token", "good"), **kwargs)


async def new_messages(socket: Any) -> list[NewMessageFrame]:
    return [f for f in socket.drain() if f.type == "new_message"]


class TestHandshake:
    async def test_refused_token_raises_403(self, gateway: Any) -> None:
        client = client_for(gateway.url, token="bad")
        with pytest.raises(ParleyError) as info:
            await client.connect()
        assert info.value.status == 403
        await client.aclose()

    async def test_connected_and_explicit_ping(self, gateway: Any) -> None:
        async with client_for(gateway.url) as client:
            socket = await client.connect()
            assert (await socket.next_frame("connected")).user_id == 1
            await socket.ping()
            assert (await socket.next_frame("pong")).type == "pong"


class TestDedupe:
    async def test_each_message_once_in_order(self, gateway: Any, fake_message: Any) -> None:
        async with client_for(gateway.url) as client:
            socket = await client.connect()
            socket.track(7, 0)
            m1, m2, m3 = (fake_message(7, s) for s in (1, 2, 3))
            for m in (m2, m1, m2, m3, m1, m3):
                await gateway.broadcast({"type": "new_message", "message": m})
            await socket.wait_for_seq(7, 3)
            assert [m.seq for m in socket.messages(7)] == [1, 2, 3]
            await socket.ping()
            await socket.next_frame("pong")
            assert [f.message.seq for f in await new_messages(socket)] == [2, 1, 3]
            assert socket.duplicates_dropped == 3

    async def test_ack_resolves_send(self, gateway: Any) -> None:
        async with client_for(gateway.url) as client:
            socket = await client.connect()
            message = await socket.send_message_acked(3, "hello")
            assert message.content == "hello" and message.seq == 1
            frame = await socket.next_frame("new_message")
            assert frame.message.client_msg_id == message.client_msg_id


class TestReconnect:
    @pytest.mark.parametrize("code", [1012, 4008, 1011])
    async def test_close_code_reconnects_and_resumes(self, gateway: Any, code: int) -> None:
        async with client_for(
            gateway.url,
        ) as client:
            socket = await client.connect(base_backoff=0.05)
            socket.track(5, 0)
            gateway.add(5)
            await gateway.broadcast({"type": "new_message", "message": gateway.conversations[5][0]})
            await socket.wait_for_seq(5, 1)
            await gateway.close_all(code)
            for _ in range(10):
                gateway.add(5)  # sent while the client is away
            await socket.wait_for_seq(5, 11)
            await socket.next_frame("resumed")
            assert socket.opens == 2 and socket.close_codes == [code]
            resume = [f for f in gateway.received if f["type"] == "resume"]
            assert resume == [{"type": "resume", "cursors": {"5": 1}}]
            assert [m.seq for m in socket.messages(5)] == list(range(1, 12))

    async def test_dropped_network_resends_unacked_message(self, gateway: Any) -> None:
        async def swallow_first(ws: Any, frame: dict[str, Any]) -> bool:
            if frame["type"] == "send_message" and gateway.accepted == 1:
                ws.transport.abort()  # the connection dies before the ack
                return True
            return False

        gateway.on_frame = swallow_first
        async with client_for(gateway.url) as client:
            socket = await client.connect(base_backoff=0.05)
            message = await socket.send_message_acked(9, "survives")
            assert message.content == "survives"
            assert len(gateway.conversations[9]) == 1

    async def test_failover_to_next_gateway(self, make_gateway: Any) -> None:
        first, second = await make_gateway().start(), await make_gateway().start()
        try:
            async with client_for(first.url, second.url) as client:
                socket = await client.connect(base_backoff=0.05, max_backoff=0.2)
                socket.track(1, 0)
                second.add(1)
                second.add(1)
                await first.stop()
                await socket.wait_for_seq(1, 2)
                assert socket.url == second.url
                assert second.accepted == 1
        finally:
            await second.stop()

    async def test_4001_refreshes_then_reconnects(self, gateway: Any) -> None:
        gateway.valid_tokens.add("fresh")
        refreshed = []

        def auth(request: httpx.Request) -> httpx.Response:
            refreshed.append(json.loads(request.content))
            return httpx.Response(
                200, json={"access_token": "fresh", "token_type": "bearer", "refresh_token": "r2"}
            )

        client = client_for(gateway.url, refresh_token="r1", transport=httpx.MockTransport(auth))
        async with client:
            socket = await client.connect(base_backoff=0.05)
            gateway.valid_tokens.discard("good")
            await gateway.close_all(4001, "token expired")
            await socket.wait_until(lambda: socket.connected_count == 2)
            assert refreshed == [{"refresh_token": "r1"}]
            assert client.access_token == "fresh" and client.refresh_token == "r2"

    async def test_4001_without_refresh_token_stops(self, gateway: Any) -> None:
        async with client_for(gateway.url) as client:
            socket = await client.connect()
            await gateway.close_all(4001, "revoked")
            with pytest.raises(SocketClosed) as info:
                await socket.next_frame("new_message", timeout=5)
            assert info.value.code == 4001
            assert gateway.accepted == 1


class TestGapsAndResync:
    async def test_seq_gap_triggers_resume(self, gateway: Any) -> None:
        async with client_for(gateway.url) as client:
            socket = await client.connect(gap_grace=0.05)
            socket.track(4, 0)
            for _ in range(3):
                gateway.add(4)
            # seq 2 is "lost" by the broker
            for seq in (1, 3):
                await gateway.broadcast(
                    {"type": "new_message", "message": gateway.conversations[4][seq - 1]}
                )
            await socket.wait_for_seq(4, 3)
            assert {"type": "resume", "cursors": {"4": 1}} in gateway.received
            assert [m.seq for m in socket.messages(4)] == [1, 2, 3]

    async def test_resume_required_sends_cursors(self, gateway: Any) -> None:
        async with client_for(gateway.url) as client:
            socket = await client.connect()
            socket.track(2, 0)
            gateway.add(2)
            await gateway.broadcast({"type": "resume_required", "reason": "broker_reconnected"})
            await socket.wait_for_seq(2, 1)
            await socket.next_frame("resumed")

    async def test_resync_required_refetches_over_rest(
        self, gateway: Any, fake_message: Any
    ) -> None:
        pages = {0: [fake_message(6, 1), fake_message(6, 2)], 2: []}

        def rest(request: httpx.Request) -> httpx.Response:
            assert request.url.path == "/conversations/6/messages"
            return httpx.Response(200, json=pages[int(request.url.params["after_seq"])])

        async with client_for(gateway.url, transport=httpx.MockTransport(rest)) as client:
            socket = await client.connect()
            socket.track(6, 0)
            await gateway.broadcast({"type": "resync_required", "conversation_id": 6})
            await socket.wait_for_seq(6, 2)
            assert (await socket.next_frame("resync_required")).conversation_id == 6
            assert [f.message.seq for f in await new_messages(socket)] == [1, 2]
