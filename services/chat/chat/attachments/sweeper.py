"""Deletes stored files that nothing shows any more: attachments of deleted messages, and
uploads never attached within `unattached_upload_seconds`. Rows are marked in the transaction
that removes them (`deleted_at`); the objects go here, after the commit, and then the rows, so a
failed deletion is tried again on the next round and a rolled-back deletion deletes nothing."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parley_common.db import utcnow
from parley_common.storage import Storage

from . import repository as repo

log = structlog.get_logger(__name__)

BATCH = 100


class AttachmentSweeper:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        storage: Storage,
        *,
        interval: float,
        unattached_seconds: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._storage = storage
        self._interval = interval
        self._unattached = timedelta(seconds=unattached_seconds)
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake_after_commit(self, session: AsyncSession) -> None:
        sync_session = session.sync_session
        if not sa_event.contains(sync_session, "after_commit", self._wake):
            sa_event.listen(sync_session, "after_commit", self._wake, once=True)

    def _wake(self, _session: object) -> None:
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="chat-attachment-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.warning("attachments.sweep_failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._interval)
            self._wakeup.clear()

    async def sweep(self) -> int:
        """One round; how many attachments were removed from storage."""
        async with self._sessionmaker() as session, session.begin():
            await repo.expire_unattached(session, utcnow() - self._unattached)
        total = 0
        while True:
            async with self._sessionmaker() as session:
                rows = await repo.removed(session, BATCH)
            if not rows:
                return total
            for row in rows:
                await self._storage.delete(row.storage_key)
                if row.thumbnail_key:
                    await self._storage.delete(row.thumbnail_key)
            async with self._sessionmaker() as session, session.begin():
                await repo.forget(session, [r.id for r in rows])
            total += len(rows)
