"""The notify service: presence, read receipts, in-app notifications and email."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from parley_common.http import Transports
from parley_common.runtime import Client, Service, create_service_app

from . import models, runtime
from .config import Settings
from .notifications.api import router as notifications_router
from .presence.api import handlers as presence_handlers
from .presence.api import router as presence_router
from .push.api import router as devices_router

MIGRATIONS = Path(__file__).parent / "migrations"

SERVICE: Service[Settings, runtime.NotifyParts] = Service(
    name="notify",
    title="Parley notify",
    routers=[notifications_router, presence_router, devices_router],
    build=runtime.build,
    migrations=MIGRATIONS,
    outbox=models.OUTBOX,
    processed=models.PROCESSED_EVENTS,
    store=True,
    clients=[Client(service="auth")],
    verify_tokens=True,
    internal_handlers=presence_handlers,
)


def create_app(
    settings: Settings | None = None, *, transports: Transports | None = None
) -> FastAPI:
    return create_service_app(SERVICE, settings or Settings(), transports=transports)
