"""The internal listener for `/metrics`, `/readyz` and `/healthz` (ARCHITECTURE.md: they are not
public; in services mode they live on a port that only the cluster reaches).

Prometheus and the kubelet send one small GET at a time, so a few lines of asyncio serve them:
no second uvicorn, whose signal handling would take over the main server's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)

Route = Callable[[], Awaitable[tuple[int, str, bytes]]]
MAX_REQUEST_HEAD = 8192
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


def json_body(status: int, data: object) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(data).encode()


class OpsServer:
    def __init__(self, routes: dict[str, Route], *, host: str, port: int) -> None:
        self._routes = routes
        self._host, self._port = host, port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)
        log.info("ops.listening", host=self._host, port=self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            method, target, *_ = head[:MAX_REQUEST_HEAD].split(b"\r\n", 1)[0].split(b" ")
            path = target.split(b"?", 1)[0].decode("latin-1")
            route = self._routes.get(path)
            if route is None:
                status, media, body = json_body(404, {"detail": "Not Found"})
            elif method not in (b"GET", b"HEAD"):
                status, media, body = json_body(405, {"detail": "Method Not Allowed"})
            else:
                status, media, body = await route()
            reason = _REASONS.get(status, "")
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {media}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + (body if method != b"HEAD" else b"")
            )
            await writer.drain()
        except (TimeoutError, ValueError, asyncio.IncompleteReadError, ConnectionError):
            pass  # a client that went away or spoke nonsense: nothing to answer
        except Exception:
            log.exception("ops.request_failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
