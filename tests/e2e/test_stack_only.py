"""What only the process stack has: several gateway replicas, processes to kill, a broker
connection to cut. Selected by the `stack_only` marker; the embedded mode has none of these."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from parley.stack import Process, free_port
from parley_common.testing.plugin import AMQP_URL
from parley_common.testing.proxy import TcpProxy

pytestmark = pytest.mark.stack_only


def ws(url: str) -> str:
    return url.replace("http", "ws", 1)


class TestGatewayFailover:
    async def test_sigkill_mid_stream_clients_fail_over_and_miss_nothing(
        self, stack: Any, connect: Any
    ) -> None:
        gw1, gw2 = stack.gateway_urls
        alice, bob, carol, dave = await stack.friends(4)
        both = {"urls": [ws(gw1), ws(gw2)], "base_backoff": 0.05, "max_backoff": 0.5}
        sa = await connect(alice, urls=[ws(gw2)])
        sb, sc, sd = [await connect(u, **both) for u in (bob, carol, dave)]
        assert {s.url for s in (sb, sc, sd)} == {ws(gw1)}
        conv = await alice.create_group("failover", [u.user.id for u in (bob, carol, dave)])
        for s in (sa, sb, sc, sd):
            await s.next_frame("conversation_created", where=lambda f: f.conversation.id == conv.id)
            s.track(conv.id, conv.last_seq)

        async def alice_stream() -> list[int]:
            return [
                (await sa.send_message_acked(conv.id, f"a{i}", timeout=30)).seq for i in range(150)
            ]

        async def dave_stream() -> list[str]:
            # Dave sits on the replica that dies: his unacked sends are resent after failover.
            cmids = []
            for i in range(50):
                cmids.append(await sd.send_message(conv.id, f"d{i}"))
                await asyncio.sleep(0)
            return cmids

        stream = asyncio.create_task(alice_stream())
        dave_cmids = await dave_stream()
        await sb.wait_until(lambda: sb.cursors.get(conv.id, 0) >= 40, timeout=30)
        await asyncio.to_thread(stack.stack.processes["gateway-1"].kill)
        try:
            alice_seqs = await stream
            dave_seqs = [(await sd.ack(c, timeout=30)).message.seq for c in dave_cmids]
            last = max(alice_seqs + dave_seqs)
            assert last == conv.last_seq + 200  # no duplicate was stored
            for s in (sa, sb, sc, sd):
                await s.wait_for_seq(conv.id, last, timeout=30)
                seqs = [m.seq for m in s.messages(conv.id)]
                assert seqs == list(range(1, last + 1))
            for s in (sb, sc, sd):
                assert s.url == ws(gw2) and s.opens >= 2
            contents = [m.content for m in sb.messages(conv.id)]
            assert sorted(c for c in contents if c.startswith("d")) == sorted(
                f"d{i}" for i in range(50)
            )
        finally:
            await asyncio.to_thread(stack.stack.restart, "gateway-1")


class TestBrokerReconnect:
    async def test_gateway_that_lost_the_broker_asks_clients_to_resume(
        self, stack: Any, connect: Any
    ) -> None:
        host, port = AMQP_URL.split("@", 1)[1].split("/", 1)[0].split(":")
        proxy = await TcpProxy(host, int(port)).start()
        base = stack.stack.processes["gateway-2"]
        amqp_via_proxy = AMQP_URL.replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}")
        extra = Process(
            "gateway-3",
            free_port(),
            {
                **base.env,
                "PARLEY_AMQP_URL": amqp_via_proxy,
                "PARLEY_GATEWAY_ID": "gateway-3",
                # What an operator reads during the cut (issue 18, quiet logs).
                "PARLEY_LOG_LEVEL": "INFO",
                "PARLEY_LOG_JSON": "true",
            },
        )
        extra.start(stack.stack.log_dir)
        try:
            await asyncio.to_thread(extra.wait_ready, 120)
            alice, bob = await stack.friends(2)
            sa = await connect(alice, urls=[ws(stack.gateway_urls[0])])
            sb = await connect(bob, urls=[ws(extra.url)])
            conv = await alice.create_group("broker", [bob.user.id])
            for s in (sa, sb):
                await s.next_frame(
                    "conversation_created", where=lambda f: f.conversation.id == conv.id
                )
                s.track(conv.id, 0)
            await sa.send_message_acked(conv.id, "before")
            await sb.wait_for_seq(conv.id, 1)

            await proxy.cut()
            for i in range(5):  # published while gateway-3 has no broker
                await sa.send_message_acked(conv.id, f"during {i}")
            await proxy.restore()
            frame = await sb.next_frame("resume_required", timeout=60)
            assert frame.reason
            await sb.next_frame("resumed", timeout=30)
            await sb.wait_for_seq(conv.id, 6, timeout=30)
            assert [m.content for m in sb.messages(conv.id)] == ["before"] + [
                f"during {i}" for i in range(5)
            ]
            assert sb.opens == 1  # the socket itself stayed up
            # One WARNING when the broker went away and one INFO when it was back: not the
            # reconnect attempts of aio-pika at ERROR every second.
            assert extra.log_path is not None
            lines = logged(extra.log_path)
            loud = [event for level, event in lines if level in ("warning", "error", "critical")]
            assert loud == ["bus.connection_lost"], loud
            assert [event for _, event in lines].count("bus.reconnected") == 1
        finally:
            extra.stop()
            await proxy.close()


def logged(log: Path) -> list[tuple[str, str]]:
    """(level, event) of each JSON line of a service's log; other lines (uvicorn's) as
    ("other", text)."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            out.append(("other", line))
            continue
        out.append((str(record.get("level", "")).lower(), str(record.get("event", ""))))
    return out


class TestViewersAcrossReplicas:
    async def test_viewers_lists_members_on_other_replicas(self, stack: Any, connect: Any) -> None:
        alice, bob = await stack.friends(2)
        sa = await connect(alice, urls=[ws(stack.gateway_urls[0])])
        sb = await connect(bob, urls=[ws(stack.gateway_urls[1])])
        conv = await alice.create_group("viewers", [bob.user.id])
        await sa.join(conv.id)
        await sa.next_frame("joined_conversation")
        await sb.join(conv.id)
        await sb.next_frame("joined_conversation")
        both = {alice.user.id, bob.user.id}
        await sa.next_frame("viewers", where=lambda f: set(f.user_ids) == both, timeout=5)
