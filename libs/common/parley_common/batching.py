"""Coalescing calls: what many callers ask for while earlier work runs goes out together.

`Batcher(handle)` takes items from any number of concurrent callers and runs `handle(items)`
with at most `concurrency` batches at once. A caller that finds a free slot is served at the
next turn of the event loop (with whatever arrived in that turn); callers that arrive while
every slot is busy wait and share the next batch. So at rest each item goes alone, at once, and
under load the cost of a round trip (a transaction, an HTTP call) is shared by many items.

`handle` returns one result per item, in order; a result that is an exception is raised to
that item's caller alone. An exception raised by `handle` itself fails the whole batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    def __init__(
        self,
        handle: Callable[[list[T]], Awaitable[Sequence[R | BaseException]]],
        *,
        concurrency: int = 4,
        max_batch: int = 200,
        name: str = "batch",
    ) -> None:
        self._handle = handle
        self._concurrency = concurrency
        self._max_batch = max_batch
        self._name = name
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._scheduled = False

    async def submit(self, item: T) -> R:
        """The item's result; raises the item's error."""
        return await self._submit([item])[0]

    async def submit_many(self, items: Sequence[T]) -> list[R | BaseException]:
        """One result per item, in order: a value or the item's exception."""
        return list(await asyncio.gather(*self._submit(items), return_exceptions=True))

    async def close(self) -> None:
        """Wait for the batches that run (callers that wait get their results)."""
        while self._running or self._waiting:
            if self._running:
                await asyncio.gather(*self._running, return_exceptions=True)
            else:
                self._start()

    def _submit(self, items: Sequence[T]) -> list[asyncio.Future[R]]:
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[R]] = [loop.create_future() for _ in items]
        self._waiting += zip(items, futures, strict=True)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._start)
        return futures

    def _start(self) -> None:
        self._scheduled = False
        while self._waiting and len(self._running) < self._concurrency:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            task = asyncio.create_task(self._run(batch), name=self._name)
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._waiting and not self._scheduled:
            self._start()

    async def _run(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results: Sequence[R | BaseException] = await self._handle([item for item, _ in batch])
        except Exception as exc:
            results = [exc] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue  # the caller went away
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
