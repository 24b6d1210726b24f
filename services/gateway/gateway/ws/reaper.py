"""Closes sockets silent for longer than the idle timeout (2× heartbeat, at least 60 s), and
removes the bus bindings that lingered unused long enough (ws/registry.py)."""

from __future__ import annotations

import asyncio
import time

import structlog

from parley_common import frames as fr

from .registry import Registry

log = structlog.get_logger(__name__)


async def reap_idle(registry: Registry, idle_timeout: float) -> None:
    interval = min(10.0, idle_timeout / 4)
    while True:
        await asyncio.sleep(interval)
        cutoff = time.monotonic() - idle_timeout
        for conn in list(registry.connections()):
            if conn.last_seen < cutoff:
                conn.close(fr.CLOSE_NORMAL, "heartbeat timeout")
        try:
            await registry.sweep()
        except Exception:
            log.warning("registry.sweep_failed", exc_info=True)
