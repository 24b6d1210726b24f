"""The whole platform in one process (`make run`): the gateway on :8000 with auth, chat and
notify in-process, SQLite files under var/, the in-memory bus and store, emails as .eml files.

Services talk to each other over httpx's ASGI transport instead of sockets: the same HTTP
calls as in the multi-process mode, without the network.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from . import run_settings

# Started in this order: each service's clients may need the ones before it.
ORDER = ("auth", "notify", "chat", "gateway")


def embedded_settings(
    name: str, data_dir: Path, *, log_json: bool = False, **overrides: Any
) -> Any:
    config = importlib.import_module(f"{name}.config")
    values: dict[str, Any] = {
        "environment": "development",
        "database_url": f"sqlite+aiosqlite:///{data_dir / (name + '.db')}",
        "amqp_url": "memory://",
        "redis_url": "memory://",
        "smtp_url": f"file://{data_dir / 'mail'}",
        "storage_url": f"file://{data_dir / 'uploads'}",
        "auto_migrate": True,
        # One terminal shows every service: readable lines unless JSON is asked for.
        "log_json": log_json,
    }
    if name != "gateway":
        # One process, one metrics registry: only the gateway may open the metrics port, and
        # only when asked (PARLEY_METRICS_PORT); /metrics and /readyz are never on :8000.
        values["metrics_port"] = 0
    values.update(overrides)
    fields = config.Settings.model_fields
    return config.Settings(**{k: v for k, v in values.items() if k in fields})


class EmbeddedPlatform:
    """One ASGI app: runs every service's lifespan and serves the gateway."""

    def __init__(self, data_dir: Path, *, log_json: bool = False, **overrides: Any) -> None:
        self.data_dir = data_dir
        self.transports: dict[str, httpx.AsyncBaseTransport] = {}
        self.apps: dict[str, FastAPI] = {}
        for name in ORDER:
            main = importlib.import_module(f"{name}.main")
            extra: dict[str, Any] = {}
            if name == "gateway":
                # The live path's internal calls go straight to the routes' functions.
                extra["direct"] = {
                    service: self.apps[service].state.internal_handlers
                    for service in ("chat", "notify")
                }
            app: FastAPI = main.create_app(
                embedded_settings(name, data_dir, log_json=log_json, **overrides.get(name, {})),
                transports=self.transports,
                **extra,
            )
            self.apps[name] = app
            self.transports[name] = httpx.ASGITransport(app=app)
        self.gateway = self.apps["gateway"]

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for name in ORDER:
                app = self.apps[name]
                await stack.enter_async_context(app.router.lifespan_context(app))
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self.gateway(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        async with contextlib.AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(self.running())
            except BaseException as exc:
                await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                raise
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            assert message["type"] == "lifespan.shutdown"
        await send({"type": "lifespan.shutdown.complete"})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="parley run",
        description="Run Parley in one process with embedded backends (what `make run` does).",
    )
    run_settings.add_arguments(parser)
    run = run_settings.from_arguments(parser.parse_args(argv))

    data_dir = run.data_dir.resolve()
    (data_dir / "mail").mkdir(parents=True, exist_ok=True)
    links = {"web_url": run.email_link_url}  # notify's and auth's emails
    platform = EmbeddedPlatform(data_dir, log_json=run.log_json, notify=links, auth=links)
    print(f"Parley is running at {run.url}/", flush=True)
    print(
        f"  data: {data_dir} (SQLite: auth.db, chat.db, notify.db; emails: {data_dir / 'mail'})",
        flush=True,
    )
    print("  press Ctrl+C to stop", flush=True)
    from gateway.ws.protocol import UVICORN_WS_OPTIONS

    uvicorn.run(
        platform,
        host=run.host,
        port=run.port,
        log_level=run.log_level.lower(),
        loop="uvloop",
        http="httptools",
        # The client address is the TCP peer: uvicorn must not take it from X-Forwarded-For
        # (it trusts 127.0.0.1 by default); PARLEY_TRUSTED_PROXIES decides (gateway/addresses.py).
        proxy_headers=False,
        # uvicorn's own logging config would bypass the services' redacting handler
        # (parley_common.logging): its loggers propagate to it instead.
        log_config=None,
        timeout_graceful_shutdown=10,
        **UVICORN_WS_OPTIONS,  # type: ignore[arg-type]
    )


if __name__ == "__main__":
    main()
