"""SQLite for the embedded mode: one connection per database file, each statement run on the
event loop's thread.

aiosqlite runs every call on a thread of its own, and each call crosses threads twice (and
takes the GIL back from the event loop): ~80 us a statement against ~7 us inline, which made
SQLite the embedded mode's largest cost per message. A statement on a local SQLite file takes
microseconds, so here it simply runs inline (the event loop waits for it). With one connection
per file (the engine's pool holds one), transactions of this process queue for it instead of
waiting on SQLite's file lock, which inline could not do without stopping the loop.

The connection is still an `aiosqlite.Connection` (what SQLAlchemy's aiosqlite dialect
drives): only its hand-off to the thread is replaced by a direct call.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator
from typing import Any

import aiosqlite


class _Inline:
    """Stands in for aiosqlite's queue to its thread: runs each job as it is queued."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _Inline()  # type: ignore[assignment]

    def __await__(self) -> Generator[Any, None, aiosqlite.Connection]:
        return self._connect().__await__()  # no thread to start


def inline_creator(path: str) -> Callable[[], InlineConnection]:
    """An `async_creator` for create_async_engine: a connection to the file at `path`."""

    def connect() -> sqlite3.Connection:
        # Implicit BEGIN before writes, as pysqlite's default; check_same_thread off because the
        # connection outlives any one task (all on the event loop's thread anyway).
        return sqlite3.connect(
            path, timeout=30, check_same_thread=False, isolation_level="DEFERRED"
        )

    return lambda: InlineConnection(connect)
