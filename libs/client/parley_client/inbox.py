"""The frames a socket received, waiting for the application: read in order
(`async for frame in socket`) or selectively (Erlang-style: frames that do not match stay
queued for later), each wait with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

from .errors import SocketClosed

#: "use the socket's `default_timeout`" (a float so that signatures stay simple)
DEFAULT = -1.0


class FrameInbox:
    """Selective receive over the queued frames; `fatal` and `_closing` end every wait."""

    default_timeout: float
    fatal: Exception | None
    _closing: bool

    def __init__(self) -> None:
        self._inbox: list[Any] = []
        self._tick = asyncio.Event()

    def _deliver(self, frame: Any) -> None:
        self._inbox.append(frame)
        self._notify()

    def _notify(self) -> None:
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while True:
            try:
                yield await self.wait_for_frame(lambda _: True, timeout=None)
            except SocketClosed:
                return

    async def next_frame(
        self,
        type: str | None = None,
        *,
        timeout: float | None = DEFAULT,
        where: Callable[[Any], bool] | None = None,
    ) -> Any:
        """The oldest queued frame of that `type` (any type when None) matching `where`."""
        return await self.wait_for_frame(
            lambda f: (type is None or f.type == type) and (where is None or where(f)),
            timeout=timeout,
            what=type or "any frame",
        )

    async def wait_for_frame(
        self, predicate: Callable[[Any], bool], timeout: float | None = DEFAULT, *, what: str = ""
    ) -> Any:
        """Removes and returns the oldest queued frame matching `predicate`, waiting for one
        until `timeout`; raises TimeoutError (listing what is queued) or SocketClosed."""
        if timeout == DEFAULT:
            timeout = self.default_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            tick = self._tick
            for i, frame in enumerate(self._inbox):
                if predicate(frame):
                    del self._inbox[i]
                    return frame
            if self.fatal is not None:
                raise self.fatal
            if self._closing:
                raise SocketClosed(1000, "closed by the client")
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                queued = Counter(f.type for f in self._inbox)
                raise TimeoutError(
                    f"no {what or 'matching frame'} within {timeout}s; queued: {dict(queued)}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tick.wait(), remaining)

    async def wait_until(self, condition: Callable[[], bool], timeout: float = DEFAULT) -> None:
        """Waits until `condition()` holds (checked whenever a frame arrives)."""
        if timeout == DEFAULT:
            timeout = self.default_timeout
        deadline = time.monotonic() + timeout
        while not condition():
            if self.fatal is not None:
                raise self.fatal
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            tick = self._tick
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tick.wait(), min(remaining, 0.5))

    def drain(self) -> list[Any]:
        """Removes and returns every queued frame."""
        frames, self._inbox = self._inbox, []
        return frames
