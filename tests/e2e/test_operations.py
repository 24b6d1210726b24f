"""What an operator relies on: a gateway that is told to stop drains its sockets with 1012 so
clients resume on another replica, and every metric a Grafana panel queries is exposed by a
running service. Process stack only (`stack_only`)."""

from __future__ import annotations

import asyncio
import importlib.util
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.stack_only

_CHECK = Path(__file__).resolve().parents[1] / "deploy" / "metrics_check.py"


def _metrics_check() -> Any:
    spec = importlib.util.spec_from_file_location("metrics_check", _CHECK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ws(url: str) -> str:
    return url.replace("http", "ws", 1)


class TestGracefulShutdown:
    async def test_sigterm_closes_with_1012_and_clients_resume_elsewhere(
        self, stack: Any, connect: Any
    ) -> None:
        gw1, gw2 = stack.gateway_urls
        alice, bob, carol = await stack.friends(3)
        both = {"urls": [ws(gw1), ws(gw2)], "base_backoff": 0.05, "max_backoff": 0.5}
        sa = await connect(alice, urls=[ws(gw2)])
        sb, sc = [await connect(u, **both) for u in (bob, carol)]
        assert {sb.url, sc.url} == {ws(gw1)}
        conv = await alice.create_group("drain", [bob.user.id, carol.user.id])
        for s in (sa, sb, sc):
            await s.next_frame("conversation_created", where=lambda f: f.conversation.id == conv.id)
            s.track(conv.id, conv.last_seq)

        async def stream() -> list[int]:
            return [
                (await sa.send_message_acked(conv.id, f"m{i}", timeout=30)).seq for i in range(60)
            ]

        sending = asyncio.create_task(stream())
        try:
            await sb.wait_until(
                lambda: sb.cursors.get(conv.id, 0) >= conv.last_seq + 10, timeout=30
            )
            gateway = stack.stack.processes["gateway-1"]
            await asyncio.to_thread(gateway.stop, signal.SIGTERM, 30.0)
            assert gateway.popen is not None and gateway.popen.returncode is not None
            seqs = await sending
            last = max(seqs)
            for s in (sb, sc):
                await s.wait_for_seq(conv.id, last, timeout=30)
                assert 1012 in s.close_codes, s.close_codes
                assert s.url == ws(gw2)
                assert [m.seq for m in s.messages(conv.id)] == list(range(1, last + 1))
        finally:
            if not sending.done():
                sending.cancel()
            await asyncio.to_thread(stack.stack.restart, "gateway-1")


class TestDashboards:
    async def test_every_dashboard_metric_is_exposed_by_a_service(self, stack: Any) -> None:
        check = _metrics_check()
        async with httpx.AsyncClient(timeout=10) as http:
            texts = [
                (await http.get(f"{process.metrics_url}/metrics")).text
                for process in stack.stack.processes.values()
            ]
        assert all("parley_" in text for text in texts)
        assert check.missing_from_exposition(texts) == {}
