"""Calls to another service's internal routes: JSON over HTTP or, in the embedded mode where
every service lives in the process, the route's own handler called directly.

The handlers are the same functions the routes call (each service lists its own in
`app.state.internal_handlers`), so both ways run the same code; the direct way skips building
and parsing an HTTP request on each side, which on the live path cost more than the work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel

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
