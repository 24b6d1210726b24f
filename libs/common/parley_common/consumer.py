"""Idempotent event consumers: a handler runs at most once per event id, in the service's own
transaction, and the message is acked only after that commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping

import structlog
from sqlalchemy import Column, MetaData, Table, Uuid
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .bus import Bus, Delivery, Subscription
from .db import UTCDateTime, utcnow
from .events import Envelope
from .metrics import EVENTS_CONSUMED

log = structlog.get_logger(__name__)

EventHandler = Callable[[AsyncSession, Envelope], Awaitable[None]]


def processed_events_table(metadata: MetaData) -> Table:
    return Table(
        "processed_events",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("processed_at", UTCDateTime, nullable=False),
    )


async def claim_event(session: AsyncSession, table: Table, event_id: object) -> bool:
    """Record the event id in this transaction; False when it was processed before."""
    dialect = session.bind.dialect.name if session.bind else "postgresql"
    insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = await session.execute(
        insert_(table)
        .values(event_id=event_id, processed_at=utcnow())
        .on_conflict_do_nothing(index_elements=["event_id"])
    )
    return bool(getattr(result, "rowcount", 0))


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
        prefetch: int = 32,
    ) -> None:
        self._service = service
        self._bus = bus
        self._sessionmaker = sessionmaker
        self._table = processed_table
        self._queue = queue
        self._bindings = list(bindings)
        self._handlers = dict(handlers)
        self._prefetch = prefetch
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        self._subscription = await self._bus.subscribe(
            self._queue, self._bindings, self.handle, prefetch=self._prefetch
        )

    async def stop(self) -> None:
        if self._subscription:
            await self._subscription.cancel()
            self._subscription = None

    async def handle(self, delivery: Delivery) -> None:
        env = Envelope.model_validate_json(delivery.body)
        handler = self._handlers.get(env.type)
        if handler is None:
            EVENTS_CONSUMED.labels(self._service, env.type, "ignored").inc()
            return
        log_ = log.bind(event_id=str(env.id), event_type=env.type, routing_key=delivery.routing_key)
        try:
            async with self._sessionmaker() as session, session.begin():
                if not await claim_event(session, self._table, env.id):
                    EVENTS_CONSUMED.labels(self._service, env.type, "duplicate").inc()
                    return
                await handler(session, env)
        except Exception:
            EVENTS_CONSUMED.labels(self._service, env.type, "failed").inc()
            log_.warning("event.failed", attempt=delivery.attempt, exc_info=True)
            raise
        EVENTS_CONSUMED.labels(self._service, env.type, "processed").inc()
