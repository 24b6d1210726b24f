"""The auth service: users, passwords, tokens and signing keys."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from parley_common.http import Transports
from parley_common.runtime import Service, create_service_app

from . import models, runtime
from .accounts_api import router as accounts_router
from .api import internal, router
from .avatars import router as avatars_router
from .config import Settings
from .recovery_api import router as recovery_router
from .service import AuthContext
from .sessions_api import router as sessions_router

MIGRATIONS = Path(__file__).parent / "migrations"

SERVICE: Service[Settings, AuthContext] = Service(
    name="auth",
    title="Parley auth",
    routers=[
        router,
        accounts_router,
        sessions_router,
        recovery_router,
        avatars_router,
        internal,
    ],
    build=runtime.build,
    migrations=MIGRATIONS,
    outbox=models.OUTBOX,
    processed=models.PROCESSED_EVENTS,
    store=True,
)


def create_app(
    settings: Settings | None = None, *, transports: Transports | None = None
) -> FastAPI:
    """`transports` is accepted for symmetry with the other services; auth calls no one."""
    return create_service_app(SERVICE, settings or Settings(), transports=transports)
