"""Handlers for the events chat consumes (queue `chat.events`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.consumer import EventHandler
from parley_common.events import Envelope, ExportRequested, UserDeleted, svc_key
from parley_common.outbox import Outbox
from parley_common.storage import Storage

from . import users
from .accounts import deletion, export
from .attachments.sweeper import AttachmentSweeper
from .config import Settings
from .deps import Ctx

QUEUE = "chat.events"
BINDINGS = ["svc.user.*", svc_key(ExportRequested.EVENT_TYPE)]


def handlers(
    *, settings: Settings, outbox: Outbox, storage: Storage, sweeper: AttachmentSweeper
) -> dict[str, EventHandler]:
    def with_ctx(handle: Callable[[Ctx, Envelope], Awaitable[None]]) -> EventHandler:
        """The handler with a service context acting as the event's user (the one deleted or
        exporting), so it can reuse the request-path services."""

        async def run(session: AsyncSession, env: Envelope) -> None:
            user_id = int(env.data["user_id"])
            await handle(Ctx(session, user_id, settings, outbox, storage, sweeper), env)

        return run

    return {
        "user.registered": users.upsert,
        "user.updated": users.upsert,
        UserDeleted.EVENT_TYPE: with_ctx(deletion.on_user_deleted),
        ExportRequested.EVENT_TYPE: with_ctx(export.on_export_requested),
    }
