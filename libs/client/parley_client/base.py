"""The REST plumbing of `ParleyClient`: replicas with failover, tokens (refreshed once when
refused), JSON bodies checked against their models, and sockets opened from it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Self, TypeVar

import httpx

from .errors import ParleyError
from .models import TokenPair, parse
from .socket import Socket
from .wire import schemas

UserRead = schemas.UserRead

T = TypeVar("T")

#: Idle connections are reused for at most this long: under the 5 s after which the gateway
#: (uvicorn) closes them, so a request never goes out on a connection being closed.
KEEPALIVE_EXPIRY = 2.0


class RestBase:
    """Async client of one Parley deployment.

    `base_urls` may be one gateway URL or several replicas: REST calls fail over to the next
    one when a connection is refused, and `connect()` hands the whole list to the socket.
    The client keeps the tokens of the last `login`/`refresh` and, when a refresh token is
    known, refreshes once and retries when the access token is refused.
    """

    def __init__(
        self,
        base_urls: str | Sequence[str] = "http://127.0.0.1:8000",
        *,
        access_token: str | None = None,
        refresh_token: str | None = None,
        timeout: float = 15.0,
        origin: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        if not urls:
            raise ValueError("at least one base URL")
        self.base_urls = [u.rstrip("/") for u in urls]
        self._url_index = 0
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.origin = origin
        self.user: UserRead | None = None
        if transport is None:
            transport = httpx.AsyncHTTPTransport(
                limits=httpx.Limits(
                    max_connections=100,
                    max_keepalive_connections=20,
                    keepalive_expiry=KEEPALIVE_EXPIRY,
                ),
                retries=1,
            )
        self._http = httpx.AsyncClient(timeout=timeout, trust_env=False, transport=transport)
        self._refresh_lock = asyncio.Lock()
        self.sockets: list[Socket] = []

    @property
    def base_url(self) -> str:
        return self.base_urls[self._url_index]

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for socket in list(self.sockets):
            await socket.close()
        await self._http.aclose()

    # --- plumbing ------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        auth: bool = True,
        headers: dict[str, str] | None = None,
        retry_auth: bool = True,
    ) -> Any:
        """Sends one request and returns the decoded JSON body; raises `ParleyError` on 4xx/5xx."""
        hdrs = dict(headers or {})
        if auth and self.access_token and "Authorization" not in hdrs:
            hdrs["Authorization"] = f"Bearer {self.access_token}"
        if self.origin:
            hdrs.setdefault("Origin", self.origin)
        if params:
            params = {k: v for k, v in params.items() if v is not None}
        response = await self._send(method, path, json=json, params=params, headers=hdrs)
        if (
            response.status_code == 401
            and auth
            and retry_auth
            and self.refresh_token
            and "Authorization" not in (headers or {})
        ):
            await self.refresh_if_stale(self.access_token)
            return await self.request(
                method, path, json=json, params=params, auth=auth, headers=headers, retry_auth=False
            )
        if response.status_code >= 400:
            raise_for(response)
        try:
            return response.json()
        except ValueError:
            return response.text

    def _auth_headers(self) -> dict[str, str]:
        headers = {}
        if self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        if self.origin:
            headers["Origin"] = self.origin
        return headers

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        last: Exception | None = None
        for _ in range(len(self.base_urls)):
            try:
                return await self._http.request(method, self.base_url + path, **kwargs)
            except (httpx.ConnectError, httpx.RemoteProtocolError) as exc:
                # That replica is gone (or went away mid-request): try the next one.
                last = exc
                self._url_index = (self._url_index + 1) % len(self.base_urls)
        assert last is not None
        raise last

    async def _get(self, tp: type[T], path: str, **kwargs: Any) -> T:
        return parse(tp, await self.request("GET", path, **kwargs), f"GET {path}")

    async def refresh_if_stale(self, stale_access_token: str | None) -> None:
        raise NotImplementedError

    def _keep(self, tokens: TokenPair) -> None:
        raise NotImplementedError

    # --- WebSocket -----------------------------------------------------------------------------

    def ws_urls(self) -> list[str]:
        return [
            "ws" + url[len("http") :] if url.startswith("http") else url for url in self.base_urls
        ]


def raise_for(response: httpx.Response) -> None:
    """ParleyError with the error body's `detail` and `code`."""
    try:
        body = response.json()
    except ValueError:
        body = response.text
    detail = body.get("detail") if isinstance(body, dict) else body
    code = body.get("code") if isinstance(body, dict) else None
    raise ParleyError(response.status_code, detail, code)
