"""Typing: a user's `typing` event stops by itself after `timeout` without a refresh, so a
client that vanished mid-sentence does not leave its friends watching "…" forever."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from parley_common import events as ev


class TypingTimers:
    def __init__(self, timeout: float, on_expired: Callable[[ev.Typing], None]) -> None:
        self._timeout = timeout
        self._on_expired = on_expired
        self._timers: dict[tuple[int, int], asyncio.TimerHandle] = {}

    def track(self, typing: ev.Typing) -> None:
        """A typing event seen: (re)start its expiry, or forget it when it says stopped."""
        key = (typing.conversation_id, typing.user_id)
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()
        if typing.is_typing:
            loop = asyncio.get_running_loop()
            self._timers[key] = loop.call_later(self._timeout, self._expired, typing)

    def _expired(self, typing: ev.Typing) -> None:
        self._timers.pop((typing.conversation_id, typing.user_id), None)
        self._on_expired(typing.model_copy(update={"is_typing": False}))

    def stop(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
