"""Deleting what a service no longer needs (docs/operations.md, Retention): published outbox
rows, consumed event ids, and each service's own purges (spent refresh tokens, sent emails,
old read notifications).

Each purge deletes in batches of `retention_batch_size` rows, picked with `FOR UPDATE SKIP
LOCKED` on PostgreSQL, so a round never holds long locks nor waits for the rows live traffic
is using, and several replicas can run it at once. Between full batches it pauses
`retention_pause_factor` times as long as the batch took: flat out, deleting two million old
rows cut the sends of the same database to 43 % while it ran (`make bench-retention`). `parley_retention_deleted_total{service,
table}` counts what went.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from prometheus_client import Counter
from sqlalchemy import ColumnElement, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .db import utcnow
from .loops import Loop
from .settings import BaseServiceSettings

log = structlog.get_logger(__name__)

DELETED = Counter(
    "parley_retention_deleted_total", "Rows deleted by retention", ["service", "table"]
)


@dataclass(frozen=True, slots=True)
class Purge:
    """Rows of `table` that `condition(now)` selects, deleted by their key column."""

    table: Table
    condition: Callable[[datetime], ColumnElement[bool]]
    key: str = "id"
    name: str | None = None  # the metric's label (default: the table's name)

    @property
    def label(self) -> str:
        return self.name or self.table.name


def standard_purges(
    outbox: Table | None, processed: Table | None, settings: BaseServiceSettings
) -> list[Purge]:
    """What every service with an outbox or an inbox keeps too long otherwise."""
    purges = []
    if outbox is not None:
        kept = timedelta(days=settings.outbox_retention_days)
        purges.append(
            Purge(
                outbox, lambda now: outbox.c.sent_at.is_not(None) & (outbox.c.sent_at < now - kept)
            )
        )
    if processed is not None:
        horizon = timedelta(days=settings.inbox_retention_days)
        purges.append(
            Purge(processed, lambda now: processed.c.processed_at < now - horizon, key="event_id")
        )
    return purges


class Retention:
    def __init__(
        self,
        *,
        service: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        purges: Sequence[Purge],
        interval: float,
        batch_size: int,
        pause_factor: float = 0.0,
    ) -> None:
        self._service = service
        self._sessionmaker = sessionmaker
        self.purges = list(purges)
        self._batch_size = batch_size
        self._pause_factor = pause_factor
        self._loop = Loop(f"retention:{service}", self._round, interval)
        # What "old" is measured against; tests move it forward.
        self.clock: Callable[[], datetime] = utcnow

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _round(self) -> None:
        deleted = await self.run_once()
        if any(deleted.values()):
            log.info("retention.deleted", **deleted)

    async def run_once(self) -> dict[str, int]:
        """Every purge until it finds nothing more; rows deleted per table."""
        now = self.clock()
        deleted: dict[str, int] = {}
        for purge in self.purges:
            total = 0
            after: object = None
            while True:
                started = time.monotonic()
                n, after = await self._batch(purge, now, after)
                total += n
                if n < self._batch_size:
                    break
                if self._pause_factor:
                    await asyncio.sleep((time.monotonic() - started) * self._pause_factor)
            deleted[purge.label] = deleted.get(purge.label, 0) + total
            DELETED.labels(self._service, purge.label).inc(total)
        return deleted

    async def _batch(self, purge: Purge, now: datetime, after: object) -> tuple[int, object]:
        """Deletes one batch in key order, past `after` (the last key of the batch before: the
        scan does not walk again over the index entries of rows just deleted, which vacuum has
        not removed yet); the rows deleted and the last key."""
        key = purge.table.c[purge.key]
        condition = purge.condition(now)
        if after is not None:
            condition = condition & (key > after)
        doomed = (
            select(key)
            .where(condition)
            .order_by(key)
            .limit(self._batch_size)
            .with_for_update(skip_locked=True)
        )
        async with self._sessionmaker() as session, session.begin():
            result = await session.execute(
                delete(purge.table).where(key.in_(doomed.scalar_subquery())).returning(key)
            )
            keys = list(result.scalars())
        return len(keys), max(keys) if keys else after
