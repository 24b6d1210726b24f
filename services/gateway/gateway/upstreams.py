"""Pooled HTTP clients to auth, chat and notify (in-process ASGI transports when given)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from parley_common.http import Transports, service_client
from parley_common.internal_calls import InternalClient, InternalHandler

from .config import Settings

#: Per service, internal routes its app serves in this process (the embedded mode).
DirectHandlers = Mapping[str, Mapping[str, InternalHandler]]


@dataclass(slots=True)
class Upstreams:
    auth: httpx.AsyncClient
    chat: httpx.AsyncClient
    notify: httpx.AsyncClient
    #: The live path's internal calls (sends, socket setup): direct in the embedded mode.
    chat_calls: InternalClient
    notify_calls: InternalClient

    @classmethod
    def create(
        cls, settings: Settings, transports: Transports | None, direct: DirectHandlers | None = None
    ) -> Upstreams:
        size = settings.upstream_pool_size
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)

        def client(name: str, url: str) -> httpx.AsyncClient:
            return service_client(
                name,
                url,
                internal_token=settings.internal_token,
                transports=transports,
                timeout=settings.upstream_timeout,
                limits=limits,
            )

        def calls(name: str, url: str, http: httpx.AsyncClient) -> InternalClient:
            return InternalClient(
                url,
                internal_token=settings.internal_token,
                timeout=settings.upstream_timeout,
                pool_size=size,
                in_process=http if name in (transports or {}) else None,
                direct=(direct or {}).get(name),
            )

        chat = client("chat", settings.chat_url)
        notify = client("notify", settings.notify_url)
        return cls(
            auth=client("auth", settings.auth_url),
            chat=chat,
            notify=notify,
            chat_calls=calls("chat", settings.chat_url, chat),
            notify_calls=calls("notify", settings.notify_url, notify),
        )

    def by_name(self, name: str) -> httpx.AsyncClient:
        client: httpx.AsyncClient = getattr(self, name)
        return client

    async def aclose(self) -> None:
        for client in (self.auth, self.chat, self.notify):
            await client.aclose()
        await self.chat_calls.aclose()
        await self.notify_calls.aclose()


def is_unreachable(exc: Exception) -> bool:
    """Connect failures and timeouts: the upstream is down or overloaded (→ 503)."""
    return isinstance(exc, httpx.ConnectError | httpx.TimeoutException | httpx.PoolTimeout)
