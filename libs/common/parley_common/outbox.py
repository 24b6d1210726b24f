"""The transactional outbox: events are rows written in the same transaction as the change,
and a relay publishes them with confirms afterwards (ARCHITECTURE.md, Reliability rules).

One row per routing key; an event for several audiences is several rows with the SAME event id,
so consumers that see it twice drop the second copy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from datetime import timedelta

import structlog
from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .bus import Bus
from .db import UTCDateTime, utcnow
from .events import Envelope
from .metrics import EVENTS_PUBLISHED, OUTBOX_AGE, OUTBOX_BACKLOG

log = structlog.get_logger(__name__)


def outbox_table(metadata: MetaData) -> Table:
    table = Table(
        "outbox",
        metadata,
        Column(
            "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        Column("event_id", Uuid, nullable=False),
        Column("event_type", String(64), nullable=False),
        Column("routing_key", String(255), nullable=False),
        Column("payload", Text, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("available_at", UTCDateTime, nullable=False),
        Column("attempts", Integer, nullable=False, default=0),
        Column("sent_at", UTCDateTime, nullable=True),
    )
    Index(
        "ix_outbox_pending",
        table.c.id,
        postgresql_where=table.c.sent_at.is_(None),
        sqlite_where=table.c.sent_at.is_(None),
    )
    return table


class Outbox:
    """Writes events into a service's outbox table and wakes the relay after the commit."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.wakeup = asyncio.Event()

    async def add(self, session: AsyncSession, env: Envelope, routing_keys: Iterable[str]) -> None:
        await self.add_many(session, [(env, routing_keys)])

    async def add_many(
        self, session: AsyncSession, events: Iterable[tuple[Envelope, Iterable[str]]]
    ) -> None:
        """Several events, each with its routing keys, in one statement."""
        now = utcnow()
        rows = []
        for env, routing_keys in events:
            payload = env.model_dump_json()
            rows += [
                {
                    "event_id": env.id,
                    "event_type": env.type,
                    "routing_key": key,
                    "payload": payload,
                    "created_at": now,
                    "available_at": now,
                    "attempts": 0,
                }
                for key in dict.fromkeys(routing_keys)
            ]
        if not rows:
            return
        await session.execute(insert(self.table), rows)
        self.wake_after_commit(session)

    def wake_after_commit(self, session: AsyncSession) -> None:
        """Wake the relay once this session commits (for callers that write outbox rows with
        their own statement, in the same transaction)."""
        sync_session = session.sync_session
        if not sa_event.contains(sync_session, "after_commit", self._wake):
            sa_event.listen(sync_session, "after_commit", self._wake, once=True)

    def _wake(self, _session: object) -> None:
        self.wakeup.set()


class OutboxRelay:
    """Publishes pending outbox rows in id order; claims them with FOR UPDATE SKIP LOCKED so
    several replicas can relay side by side. Failed publishes back off and are retried."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        sessionmaker: async_sessionmaker[AsyncSession],
        bus: Bus,
        service: str,
        poll_seconds: float = 1.0,
        batch_size: int = 200,
        max_backoff_seconds: float = 5.0,
        keep_sent_seconds: float = 3600.0,
    ) -> None:
        self._outbox = outbox
        self._table = outbox.table
        self._sessionmaker = sessionmaker
        self._bus = bus
        self._service = service
        self._poll = poll_seconds
        self._batch = batch_size
        self._max_backoff = max_backoff_seconds
        self._keep_sent = keep_sent_seconds
        self._task: asyncio.Task[None] | None = None
        self._last_purge = 0.0
        self._last_gauges = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"outbox-relay:{self._service}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self) -> None:
        while True:
            try:
                published = await self.relay_once()
                if published >= self._batch:
                    continue  # more are waiting
                await self._update_gauges()
                await self._purge_sent()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox.relay_failed", service=self._service, exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbox.wakeup.wait(), self._poll)
            self._outbox.wakeup.clear()

    async def relay_once(self) -> int:
        """Publish one batch of due rows; returns how many were published."""
        t = self._table
        async with self._sessionmaker() as session, session.begin():
            rows: Sequence[tuple[int, str, str, str, int, str]] = (
                await session.execute(
                    select(
                        t.c.id,
                        t.c.routing_key,
                        t.c.payload,
                        t.c.event_id,
                        t.c.attempts,
                        t.c.event_type,
                    )
                    .where(t.c.sent_at.is_(None), t.c.available_at <= utcnow())
                    .order_by(t.c.id)
                    .limit(self._batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            results = await asyncio.gather(
                *(
                    self._bus.publish(key, payload.encode(), message_id=str(event_id))
                    for _, key, payload, event_id, _, _ in rows
                ),
                return_exceptions=True,
            )
            sent = [row[0] for row, res in zip(rows, results, strict=True) if res is None]
            failed = [row for row, res in zip(rows, results, strict=True) if res is not None]
            now = utcnow()
            if sent:
                await session.execute(update(t).where(t.c.id.in_(sent)).values(sent_at=now))
            for row_id, _, _, _, attempts, _ in failed:
                delay = min(self._max_backoff, 0.2 * 2**attempts)
                await session.execute(
                    update(t)
                    .where(t.c.id == row_id)
                    .values(attempts=attempts + 1, available_at=now + timedelta(seconds=delay))
                )
            if failed:
                log.warning(
                    "outbox.publish_failed",
                    service=self._service,
                    failed=len(failed),
                    error=str(next(r for r in results if r is not None)),
                )
            for row, res in zip(rows, results, strict=True):
                if res is None:
                    EVENTS_PUBLISHED.labels(self._service, row[5]).inc()
        return len(sent)

    async def _update_gauges(self) -> None:
        # At most once a second: after every wakeup (every commit under load) it doubled the
        # relay's queries.
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._last_gauges < 1.0:
            return
        self._last_gauges = loop_time
        t = self._table
        async with self._sessionmaker() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(t.c.created_at)).where(t.c.sent_at.is_(None))
                )
            ).one()
        OUTBOX_BACKLOG.labels(self._service).set(count)
        age = (utcnow() - oldest).total_seconds() if oldest else 0.0
        OUTBOX_AGE.labels(self._service).set(age)

    async def _purge_sent(self) -> None:
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._last_purge < 60:
            return
        self._last_purge = loop_time
        cutoff = utcnow() - timedelta(seconds=self._keep_sent)
        t = self._table
        async with self._sessionmaker() as session, session.begin():
            await session.execute(delete(t).where(t.c.sent_at.is_not(None), t.c.sent_at < cutoff))
