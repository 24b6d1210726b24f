"""Idempotent event consumers: a handler runs at most once per event id, in the service's own
transaction, and the messages are acked only after that commit.

Deliveries are handled in batches (ARCHITECTURE.md: "a burst costs per batch, not per
event"): the events waiting in the queue share one transaction, one insert of their ids into
the inbox table, and one ack. When a batch fails, the bus hands each of its deliveries over
again alone, so a poison event is retried and dead-lettered on its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping

import structlog
from sqlalchemy import Column, Index, MetaData, Table, Uuid
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .bus import Bus, Delivery, Subscription
from .db import UTCDateTime, utcnow
from .events import Envelope
from .metrics import EVENTS_CONSUMED

log = structlog.get_logger(__name__)

EventHandler = Callable[[AsyncSession, Envelope], Awaitable[None]]
#: Runs before a batch's transaction with the events that have a handler, e.g. to look up
#: in one round trip what every handler of the batch will need.
BatchPreparer = Callable[[list[Envelope]], Awaitable[None]]
#: After `prepare`: False when the event's handler would change nothing (then the event costs
#: no transaction and no inbox row: handling it again would change nothing either).
WorkCheck = Callable[[Envelope], bool]


def processed_events_table(metadata: MetaData) -> Table:
    table = Table(
        "processed_events",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("processed_at", UTCDateTime, nullable=False),
    )
    # Retention deletes the oldest ids in batches (parley_common.retention).
    Index("ix_processed_events_processed_at", table.c.processed_at)
    return table


async def claim_events(
    session: AsyncSession, table: Table, event_ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    """Record the event ids in this transaction; returns those not processed before."""
    now = utcnow()
    ids = list(event_ids)
    if not ids:
        return set()
    dialect = session.bind.dialect.name if session.bind else "postgresql"
    if dialect == "postgresql":
        # One statement text whatever the batch size (prepared once per connection).
        connection = await session.connection()
        result = await connection.exec_driver_sql(
            f"INSERT INTO {table.name} (event_id, processed_at) "
            "SELECT unnest($1::uuid[]), $2 ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
            (ids, now),
        )
        return {
            row[0] if isinstance(row[0], uuid.UUID) else uuid.UUID(str(row[0])) for row in result
        }
    rows = [{"event_id": event_id, "processed_at": now} for event_id in ids]
    insert_ = sqlite.insert
    result = await session.execute(
        insert_(table)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(table.c.event_id)
    )
    return set(result.scalars())


async def claim_event(session: AsyncSession, table: Table, event_id: uuid.UUID) -> bool:
    """Record one event id in this transaction; False when it was processed before."""
    return bool(await claim_events(session, table, [event_id]))


class EventConsumer:
    """Consumes a durable queue and dispatches each event type to its handler exactly once."""

    def __init__(
        self,
        *,
        service: str,
        bus: Bus,
        sessionmaker: async_sessionmaker[AsyncSession],
        processed_table: Table,
        queue: str,
        bindings: Iterable[str],
        handlers: Mapping[str, EventHandler],
        prepare: BatchPreparer | None = None,
        has_work: WorkCheck | None = None,
        max_batch: int = 100,
        linger: float = 0.0,
    ) -> None:
        self._service = service
        self._bus = bus
        self._sessionmaker = sessionmaker
        self._table = processed_table
        self._queue = queue
        self._bindings = list(bindings)
        self._handlers = dict(handlers)
        self._prepare = prepare
        self._has_work = has_work
        self._max_batch = max_batch
        self._linger = linger
        self._subscription: Subscription | None = None

    @property
    def queue(self) -> str:
        return self._queue

    async def start(self) -> None:
        self._subscription = await self._bus.subscribe_batches(
            self._queue,
            self._bindings,
            self.handle_batch,
            max_batch=self._max_batch,
            linger=self._linger,
        )

    async def stop(self) -> None:
        if self._subscription:
            await self._subscription.cancel()
            self._subscription = None

    async def handle(self, delivery: Delivery) -> None:
        await self.handle_batch([delivery])

    async def handle_batch(self, deliveries: list[Delivery]) -> None:
        events: dict[uuid.UUID, Envelope] = {}
        for delivery in deliveries:
            env = Envelope.model_validate_json(delivery.body)
            if env.type not in self._handlers:
                EVENTS_CONSUMED.labels(self._service, env.type, "ignored").inc()
            elif env.id in events:
                # An event for several audiences arrives once per routing key (same id).
                EVENTS_CONSUMED.labels(self._service, env.type, "duplicate").inc()
            else:
                events[env.id] = env
        if not events:
            return
        batch = list(events.values())
        if self._prepare is not None:
            await self._prepare(batch)
        if self._has_work is not None:
            busy: list[Envelope] = []
            for env in batch:
                if self._has_work(env):
                    busy.append(env)
                else:
                    EVENTS_CONSUMED.labels(self._service, env.type, "processed").inc()
            batch = busy
            if not batch:
                return
        try:
            async with self._sessionmaker() as session, session.begin():
                new = await claim_events(session, self._table, [env.id for env in batch])
                for env in batch:
                    if env.id in new:
                        await self._handlers[env.type](session, env)
        except Exception:
            if len(deliveries) == 1:
                EVENTS_CONSUMED.labels(self._service, batch[0].type, "failed").inc()
                log.warning(
                    "event.failed",
                    event_id=str(batch[0].id),
                    event_type=batch[0].type,
                    attempt=deliveries[0].attempt,
                    exc_info=True,
                )
            else:
                log.info("event.batch_failed", events=len(batch), exc_info=True)
            raise
        for env in batch:
            result = "processed" if env.id in new else "duplicate"
            EVENTS_CONSUMED.labels(self._service, env.type, result).inc()
