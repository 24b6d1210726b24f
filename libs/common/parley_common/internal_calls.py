"""Calls to another service's internal routes: JSON over HTTP or, in the embedded mode where
every service lives in the process, the route's own handler called directly.

The handlers are the same functions the routes call (each service lists its own in
`app.state.internal_handlers`), so both ways run the same code; the direct way skips building
and parsing an HTTP request on each side, which on the live path cost more than the work.

Over the network the calls go through aiohttp, not httpx: these are the live path's calls (a
socket's setup at connect, every WebSocket send), and py-spy on a gateway during one-at-a-time
connects put 31 % of its samples in httpx's client and httpcore's pure-Python HTTP/1.1 (h11).
Measured on this repo's 2-CPU machine against a trivial uvicorn route: httpx 1.5 ms of client
CPU per call, httpx's transport alone 1.1 ms, aiohttp (C parser) 0.37 ms. aiohttp is already
installed with aiobotocore (storage). A transport the composition root gives (an app in the
same process, in tests) is still called through httpx.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import aiohttp
import httpx
import orjson
from pydantic import BaseModel

from .http import KEEPALIVE_EXPIRY
from .internal import SERVICE_TOKEN_HEADER

#: A route's handler: the request's JSON body in, the response's JSON body out.
InternalHandler = Callable[[Any], Awaitable[Any]]

B = TypeVar("B", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class InternalRoute(Generic[B]):
    """A live-path internal route as a handler: its body's model, and what it does with a
    valid body. Validation comes first and changes nothing, so a caller that finds the body
    invalid can still hand the request to the FastAPI route for its usual error answer
    (parley_common.internal_fast_path)."""

    body: type[B]
    run: Callable[[B], Awaitable[Any]]

    async def __call__(self, payload: Any) -> Any:
        return await self.run(self.body.model_validate(payload))


_JSON = {"content-type": "application/json"}


class InternalCallFailed(Exception):
    """The other service could not answer (unreachable, timed out, or an error status)."""


class InternalClient:
    """POSTs JSON to one service's internal routes, with the service token.

    In order: the route's handler when the service lives in this process (`direct`); the
    service's own httpx client when the composition root gave it an in-process transport
    (`in_process`: it carries the token, and its owner closes it); else HTTP through a pool of
    `pool_size` kept-alive connections (opened at the first call: aiohttp wants a running loop).
    """

    def __init__(
        self,
        base_url: str,
        *,
        internal_token: str,
        timeout: float = 10.0,
        pool_size: int = 100,
        in_process: httpx.AsyncClient | None = None,
        direct: Mapping[str, InternalHandler] | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = {SERVICE_TOKEN_HEADER: internal_token, **_JSON}
        self._timeout = timeout
        self._pool_size = pool_size
        self._in_process = in_process
        self._direct = dict(direct or {})
        self._session: aiohttp.ClientSession | None = None

    async def post(self, path: str, body: Any) -> Any:
        handler = self._direct.get(path)
        if handler is not None:
            try:
                return await handler(body)
            except Exception as exc:
                raise InternalCallFailed(f"{path}: {exc!r}") from exc
        payload = orjson.dumps(body)
        try:
            if self._in_process is not None:
                answer = await self._in_process.post(path, content=payload, headers=_JSON)
                status, data = answer.status_code, answer.content
            else:
                async with self._pool().post(
                    self._base_url + path, data=payload, headers=self._headers
                ) as response:
                    status, data = response.status, await response.read()
        except (httpx.HTTPError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise InternalCallFailed(f"{path}: {exc!r}") from exc
        if status >= 400:
            raise InternalCallFailed(f"{path}: HTTP {status}")
        try:
            return orjson.loads(data)
        except ValueError as exc:
            raise InternalCallFailed(f"{path}: {exc!r}") from exc

    def _pool(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._pool_size, keepalive_timeout=KEEPALIVE_EXPIRY
                ),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
