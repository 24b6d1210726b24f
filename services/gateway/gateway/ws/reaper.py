"""Closes sockets silent for longer than the idle timeout (2× heartbeat, at least 60 s)."""

from __future__ import annotations

import asyncio
import time

from parley_common import frames as fr

from .hub import Hub


async def reap_idle(hub: Hub, idle_timeout: float) -> None:
    interval = min(10.0, idle_timeout / 4)
    while True:
        await asyncio.sleep(interval)
        cutoff = time.monotonic() - idle_timeout
        for conn in hub.connections():
            if conn.last_seen < cutoff:
                conn.close(fr.CLOSE_NORMAL, "heartbeat timeout")
