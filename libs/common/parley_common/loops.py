"""Background loops that stop promptly even when a client library swallows a cancellation
(redis-py can, mid-command): a stop flag is checked between rounds, and stopping waits a
bounded time for the last round."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


class Loop:
    def __init__(self, name: str, body: Callable[[], Awaitable[None]], interval: float) -> None:
        self._name = name
        self._body = body
        self._interval = interval
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout)
        if not task.done():
            log.warning("loop.stop_timed_out", loop=self._name)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._body()
            except asyncio.CancelledError:
                if self._stopping.is_set():
                    raise
            except Exception:
                log.warning("loop.round_failed", loop=self._name, exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)
