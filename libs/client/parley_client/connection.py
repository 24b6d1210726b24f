"""The connection under a `Socket`: opening a WebSocket with the token in any of the four
handshake forms, and the reconnect loop (exponential backoff with jitter, rotating through
the gateway URLs, a token refresh on 4001 or a refused handshake)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Sequence
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from .errors import ParleyError, SocketClosed
from .wire import frames, schemas

CLOSE_AUTH = frames.CLOSE_AUTH
MessageRead = schemas.MessageRead

log = logging.getLogger("parley_client.socket")

AUTH_MODES = ("path", "query", "header", "frame")


class SocketOwner(Protocol):
    """What a socket needs of its REST client (`ParleyClient`): tokens, and history."""

    access_token: str | None
    refresh_token: str | None
    sockets: list[Any]

    def ws_urls(self) -> list[str]: ...

    async def refresh_if_stale(self, stale_access_token: str | None) -> None: ...

    async def messages_after(self, conversation_id: int, after_seq: int) -> list[MessageRead]: ...


class Connection:
    """Opens and re-opens the WebSocket; subclasses read it (`_read`) and decide what a lost
    connection that will not come back means (`_give_up`)."""

    def __init__(
        self,
        client: SocketOwner,
        *,
        urls: Sequence[str] | None,
        auth_mode: str,
        origin: str | None,
        reconnect: bool,
        base_backoff: float,
        max_backoff: float,
        open_timeout: float,
        token: str | None,
    ) -> None:
        if auth_mode not in AUTH_MODES:
            raise ValueError(f"auth_mode must be one of {AUTH_MODES}")
        self.client = client
        self.urls = [u.rstrip("/") for u in (urls or client.ws_urls())]
        self.auth_mode = auth_mode
        self.origin = origin
        self.reconnect = reconnect
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.open_timeout = open_timeout
        self._token = token
        self._used_token: str | None = None
        self.url_index = 0
        self.ws: ClientConnection | None = None
        #: successful opens (1 after start, +1 per reconnect)
        self.opens = 0
        self.close_codes: list[int | None] = []
        self._heartbeat: asyncio.Task[None] | None = None
        self._open = asyncio.Event()
        self._closing = False

    async def _read(self, ws: ClientConnection) -> None:
        raise NotImplementedError

    def _give_up(self, exc: Exception) -> None:
        raise NotImplementedError

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    @property
    def url(self) -> str:
        return self.urls[self.url_index]

    def drop(self) -> None:
        """Aborts the TCP connection without a close handshake, as a lost network would; the
        socket then reconnects and resumes like after any other loss."""
        if self.ws is not None:
            self.ws.transport.abort()

    def _token_now(self) -> str:
        token = self._token or self.client.access_token
        if not token:
            raise ValueError("log in first: no access token")
        return token

    async def _connect(self, base: str) -> ClientConnection:
        token = self._used_token = self._token_now()
        headers: dict[str, str] = {}
        if self.auth_mode == "path":
            uri = f"{base}/ws/{token}"
        elif self.auth_mode == "query":
            uri = f"{base}/ws?token={token}"
        else:
            uri = f"{base}/ws"
            if self.auth_mode == "header":
                headers["Authorization"] = f"Bearer {token}"
        try:
            ws = await connect(
                uri,
                origin=self.origin,  # type: ignore[arg-type]
                additional_headers=headers,
                proxy=None,
                open_timeout=self.open_timeout,
                max_size=16 * 1024 * 1024,
                max_queue=None,
                close_timeout=2,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise ParleyError(status, exc.response.body.decode(errors="replace") or str(exc), None)
        if self.auth_mode == "frame":
            await ws.send(json.dumps({"type": "auth", "token": token}))
        return ws

    def _attach(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.opens += 1
        self._open.set()

    async def _run(self, ws: ClientConnection) -> None:
        failures = 0
        while True:
            await self._read(ws)
            self._open.clear()
            if self._heartbeat is not None:
                self._heartbeat.cancel()
            code = ws.close_code if ws.close_code is not None else 1006
            self.close_codes.append(code)
            if self._closing:
                return
            if not self.reconnect:
                return self._give_up(SocketClosed(code, ws.close_reason or ""))
            if code == CLOSE_AUTH and not await self._refresh_token():
                return self._give_up(SocketClosed(code, ws.close_reason or "token refused"))
            # Reconnect: same URL first, the next replica after each failed attempt.
            refreshed = code == CLOSE_AUTH
            while True:
                if failures:
                    delay = min(self.max_backoff, self.base_backoff * 2 ** (failures - 1))
                    await asyncio.sleep(random.uniform(delay / 2, delay))
                try:
                    ws = await self._connect(self.url)
                except ParleyError as exc:
                    failures += 1
                    if exc.status in (401, 403):
                        # The token may have expired or been revoked while we were away.
                        if refreshed or not await self._refresh_token():
                            return self._give_up(SocketClosed(exc.status, str(exc.detail)))
                        refreshed = True
                        continue
                    self.url_index = (self.url_index + 1) % len(self.urls)
                    continue
                except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as exc:
                    log.debug("reconnect to %s failed: %r", self.url, exc)
                    failures += 1
                    self.url_index = (self.url_index + 1) % len(self.urls)
                    continue
                if self._closing:
                    with contextlib.suppress(Exception):
                        await ws.close(1000)
                    return
                failures = 0
                self._attach(ws)
                break

    async def _refresh_token(self) -> bool:
        if self._token is not None or not self.client.refresh_token:
            return False
        try:
            await self.client.refresh_if_stale(self._used_token)
        except Exception as exc:
            log.debug("refresh failed: %r", exc)
            return False
        return True
