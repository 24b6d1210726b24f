"""The transactional outbox: events are rows written in the same transaction as the change,
and a relay publishes them with confirms afterwards (ARCHITECTURE.md, Reliability rules).

One row per routing key; an event for several audiences is several rows with the SAME event id,
so consumers that see it twice drop the second copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

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
    or_,
    select,
    update,
)
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from .bus import Bus
from .db import UTCDateTime, like_escaped, utcnow
from .events import Envelope
from .metrics import EVENTS_PUBLISHED, OUTBOX_AGE, OUTBOX_BACKLOG

log = structlog.get_logger(__name__)


# Marks confirmed rows sent (available_at back to now: a row marked unsent again is due at
# once) and claims due rows, in one statement (no transaction around it).
_CLAIM_PG = """
WITH settled AS (
    UPDATE {table} SET sent_at = $1, available_at = $1 WHERE id = ANY($4::bigint[])
), due AS (
    SELECT id FROM {table} WHERE sent_at IS NULL AND available_at <= $1
    ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED
)
UPDATE {table} o SET available_at = $2 FROM due WHERE o.id = due.id
RETURNING o.id, o.routing_key, o.payload, o.event_id, o.attempts, o.event_type
"""


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

    async def forget_published(self, session: AsyncSession, values: Iterable[str]) -> None:
        """Deletes the published rows whose payload contains any of `values` (a deleted user's
        name or address, also inside a text such as a notification's title): they would
        otherwise stay until outbox retention. A published row is only a record of what was
        sent, so one deleted for a name that merely contains the value costs nothing. Rows not
        yet published stay, so no event is lost; retention takes them later."""
        # As the value appears inside the payload's JSON strings.
        needles = [json.dumps(v, ensure_ascii=False)[1:-1] for v in values if v]
        if not needles:
            return
        t = self.table
        await session.execute(
            delete(t).where(
                t.c.sent_at.is_not(None),
                or_(*(t.c.payload.like(f"%{like_escaped(n)}%", escape="\\") for n in needles)),
            )
        )

    async def add(self, session: AsyncSession, env: Envelope, routing_keys: Iterable[str]) -> None:
        await self.add_many(session, [(env, routing_keys)])

    async def add_many(
        self, session: AsyncSession, events: Iterable[tuple[Envelope, Iterable[str]]]
    ) -> None:
        """Several events, each with its routing keys, in one statement."""
        await self.add_serialized(
            session,
            [
                (env, key, payload)
                for env, keys in events
                for payload in (env.model_dump_json(),)
                for key in dict.fromkeys(keys)
            ],
        )

    async def add_serialized(
        self, session: AsyncSession | AsyncConnection, rows: Iterable[tuple[Envelope, str, str]]
    ) -> None:
        """Rows of (event, routing key, the event's JSON as it is to be published). On a
        session the relay wakes after its commit; on a connection the caller wakes it."""
        now = utcnow()
        values = [
            {
                "event_id": env.id,
                "event_type": env.type,
                "routing_key": key,
                "payload": payload,
                "created_at": now,
                "available_at": now,
                "attempts": 0,
            }
            for env, key, payload in rows
        ]
        if not values:
            return
        await session.execute(insert(self.table), values)
        if isinstance(session, AsyncSession):
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
    """Publishes pending outbox rows in id order.

    Rows are claimed with a lease: their `available_at` moves `lease_seconds` ahead, taken
    FOR UPDATE SKIP LOCKED so replicas relay side by side. They are published, and marked sent
    once their confirms are in. The next claim does not wait for the confirms of the last one
    (up to `max_in_flight` claimed batches are out at once), so the broker's confirm latency
    does not add up into the events' delivery latency. Rows confirmed since the last claim are
    marked sent by the next claim's own statement (on PostgreSQL one statement without a
    transaction around it: a claim and its settling cost one round trip). A relay that dies
    with rows claimed leaves them to be published again once the lease ends (at least once;
    consumers drop copies); a row refused by the broker backs off and is retried."""

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
        lease_seconds: float = 30.0,
        max_in_flight: int = 4,
    ) -> None:
        self._outbox = outbox
        self._table = outbox.table
        self._sessionmaker = sessionmaker
        self._bus = bus
        self._service = service
        self._poll = poll_seconds
        self._batch = batch_size
        self._max_backoff = max_backoff_seconds
        self._lease = timedelta(seconds=lease_seconds)
        self._max_in_flight = max_in_flight
        self._in_flight: set[asyncio.Task[int]] = set()
        self._confirmed: list[int] = []  # published, not yet marked sent
        self._failing = False  # publishes fail (broker away): said once, until they work again
        self._task: asyncio.Task[None] | None = None
        self._last_gauges = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"outbox-relay:{self._service}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # Let publishes under way finish and mark them sent (not published again).
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=5)
        with contextlib.suppress(Exception):
            await self._claim(limit=0)

    async def run(self) -> None:
        while True:
            try:
                claimed = await self._claim()
                if claimed:
                    task = asyncio.create_task(self._publish(claimed))
                    self._in_flight.add(task)
                    task.add_done_callback(self._in_flight.discard)
                    if len(self._in_flight) >= self._max_in_flight:
                        await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
                    if len(claimed) >= self._batch:
                        continue  # more are waiting
                else:
                    # Sent rows are deleted by the retention loop (parley_common.retention:
                    # batched, paced, kept `outbox_retention_days`), not here.
                    await self._update_gauges()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox.relay_failed", service=self._service, exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbox.wakeup.wait(), self._poll)
            self._outbox.wakeup.clear()

    async def relay_once(self) -> int:
        """Claim, publish and mark sent one batch of due rows; returns how many were published."""
        claimed = await self._claim()
        published = await self._publish(claimed) if claimed else 0
        await self._claim(limit=0)
        return published

    async def _claim(self, limit: int | None = None) -> list[Any]:
        """Mark the confirmed rows sent and claim up to `limit` due ones (0: only mark)."""
        limit = self._batch if limit is None else limit
        settled, self._confirmed = self._confirmed, []
        now = utcnow()
        try:
            engine = self._sessionmaker.kw["bind"]
            if engine.dialect.name == "postgresql":
                async with engine.connect() as conn:
                    conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                    result = await conn.exec_driver_sql(
                        _CLAIM_PG.format(table=self._table.name),
                        (now, now + self._lease, limit, settled),
                    )
                    rows = result.all()
            else:
                rows = await self._claim_portable(now, limit, settled)
        except BaseException:
            self._confirmed = settled + self._confirmed  # marked at the next claim
            raise
        return sorted(rows, key=lambda row: row[0])

    async def _claim_portable(self, now: Any, limit: int, settled: list[int]) -> list[Any]:
        t = self._table
        async with self._sessionmaker() as session, session.begin():
            if settled:
                await session.execute(
                    update(t).where(t.c.id.in_(settled)).values(sent_at=now, available_at=now)
                )
            if not limit:
                return []
            due = (
                select(t.c.id)
                .where(t.c.sent_at.is_(None), t.c.available_at <= now)
                .order_by(t.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            return list(
                (
                    await session.execute(
                        update(t)
                        .where(t.c.id.in_(due.scalar_subquery()))
                        .values(available_at=now + self._lease)
                        .returning(
                            t.c.id,
                            t.c.routing_key,
                            t.c.payload,
                            t.c.event_id,
                            t.c.attempts,
                            t.c.event_type,
                        )
                    )
                ).all()
            )

    async def _publish(self, rows: Sequence[Any]) -> int:
        results = await asyncio.gather(
            *(
                self._bus.publish(key, payload.encode(), message_id=str(event_id))
                for _, key, payload, event_id, _, _ in rows
            ),
            return_exceptions=True,
        )
        sent = [row[0] for row, res in zip(rows, results, strict=True) if res is None]
        failed = [row for row, res in zip(rows, results, strict=True) if res is not None]
        self._confirmed += sent
        if sent:
            self._outbox.wakeup.set()  # the next claim marks them sent
        if failed:
            t = self._table
            now = utcnow()
            async with self._sessionmaker() as session, session.begin():
                for row_id, _, _, _, attempts, _ in failed:
                    delay = min(self._max_backoff, 0.2 * 2**attempts)
                    await session.execute(
                        update(t)
                        .where(t.c.id == row_id)
                        .values(attempts=attempts + 1, available_at=now + timedelta(seconds=delay))
                    )
            # One warning per outage (the rows wait and are retried with backoff), then one
            # line when events flow again.
            (log.debug if self._failing else log.warning)(
                "outbox.publish_failed",
                service=self._service,
                failed=len(failed),
                error=str(next(r for r in results if r is not None)),
            )
            self._failing = True
        elif sent and self._failing:
            self._failing = False
            log.info("outbox.publishing_again", service=self._service)
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
