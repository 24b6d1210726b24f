"""Calls to another service's internal routes: JSON over HTTP or, in the embedded mode where
every service lives in the process, the route's own handler called directly.

The handlers are the same functions the routes call (each service lists its own in
`app.state.internal_handlers`), so both ways run the same code; the direct way skips building
and parsing an HTTP request on each side, which on the live path cost more than the work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

#: A route's handler: the request's JSON body in, the response's JSON body out.
InternalHandler = Callable[[Any], Awaitable[Any]]


class InternalCallFailed(Exception):
    """The other service could not answer (unreachable, timed out, or an error status)."""


class InternalClient:
    def __init__(
        self, http: httpx.AsyncClient, direct: Mapping[str, InternalHandler] | None = None
    ) -> None:
        self._http = http
        self._direct = dict(direct or {})

    async def post(self, path: str, body: Any) -> Any:
        handler = self._direct.get(path)
        if handler is not None:
            try:
                return await handler(body)
            except Exception as exc:
                raise InternalCallFailed(f"{path}: {exc!r}") from exc
        try:
            response = await self._http.post(path, json=body)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise InternalCallFailed(f"{path}: {exc!r}") from exc
