"""`ParleyClient`: typed async methods for every REST route of PROTOCOL.md section 1."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from .errors import ParleyError, ProtocolViolation
from .wire import schemas

ConversationRead = schemas.ConversationRead
FriendRead = schemas.FriendRead
FriendRequestRead = schemas.FriendRequestRead
MessageRead = schemas.MessageRead
NotificationRead = schemas.NotificationRead
PresenceState = schemas.PresenceState
UserPublic = schemas.UserPublic
UserRead = schemas.UserRead
UserRef = schemas.UserRef

if TYPE_CHECKING:
    from .socket import Socket

T = TypeVar("T")


class TokenPair(BaseModel):
    access_token: str
    token_type: str = "bearer"
    refresh_token: str | None = None
    expires_in: int | None = None


class MemberRead(BaseModel):
    id: int
    username: str
    email: str | None = None
    role: str
    is_owner: bool = False


class ReceiptRead(BaseModel):
    user_id: int
    last_read_seq: int = 0
    read_at: Any = None
    last_delivered_seq: int = 0
    delivered_at: Any = None


class UnreadCount(BaseModel):
    total: int
    by_conversation: dict[int, int] = {}


@dataclass
class _Adapters:
    cache: dict[Any, TypeAdapter[Any]]

    def get(self, tp: Any) -> TypeAdapter[Any]:
        adapter = self.cache.get(tp)
        if adapter is None:
            adapter = self.cache[tp] = TypeAdapter(tp)
        return adapter


_ADAPTERS = _Adapters({})


def _parse(tp: Any, data: Any, route: str) -> Any:
    try:
        return _ADAPTERS.get(tp).validate_python(data)
    except ValidationError as exc:
        raise ProtocolViolation(f"{route}: body does not match {tp}: {exc}; body={data!r}") from exc


class ParleyClient:
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
        self._http = httpx.AsyncClient(timeout=timeout, trust_env=False, transport=transport)
        self._refresh_lock = asyncio.Lock()
        self.sockets: list[Socket] = []

    @property
    def base_url(self) -> str:
        return self.base_urls[self._url_index]

    async def __aenter__(self) -> ParleyClient:
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
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            detail = body.get("detail") if isinstance(body, dict) else body
            code = body.get("code") if isinstance(body, dict) else None
            raise ParleyError(response.status_code, detail, code)
        return body

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

    async def _get(self, tp: Any, path: str, **kwargs: Any) -> Any:
        return _parse(tp, await self.request("GET", path, **kwargs), f"GET {path}")

    # --- auth and users ------------------------------------------------------------------------

    async def register(self, username: str, email: str, password: str) -> UserPublic:
        body = await self.request(
            "POST",
            "/auth/register",
            json={"username": username, "email": email, "password": password},
            auth=False,
        )
        return _parse(UserPublic, body, "POST /auth/register")

    async def login(self, username: str, password: str, *, path: str = "/auth/login") -> TokenPair:
        """Logs in (`path="/auth/token"` for the alias) and keeps the tokens."""
        body = await self.request(
            "POST", path, json={"username": username, "password": password}, auth=False
        )
        tokens = _parse(TokenPair, body, f"POST {path}")
        self._keep(tokens)
        return tokens

    async def refresh(self, refresh_token: str | None = None) -> TokenPair:
        """Rotates the refresh token and keeps the new pair."""
        token = refresh_token or self.refresh_token
        if not token:
            raise ValueError("no refresh token")
        body = await self.request(
            "POST", "/auth/refresh", json={"refresh_token": token}, auth=False
        )
        tokens = _parse(TokenPair, body, "POST /auth/refresh")
        self._keep(tokens)
        return tokens

    async def refresh_if_stale(self, stale_access_token: str | None) -> None:
        """Refreshes unless someone (another socket, a concurrent request) already replaced
        `stale_access_token`: a refresh token is single-use, and reusing it revokes the
        whole session, so concurrent refreshes must collapse into one."""
        async with self._refresh_lock:
            if self.access_token == stale_access_token:
                await self.refresh()

    def _keep(self, tokens: TokenPair) -> None:
        self.access_token = tokens.access_token
        if tokens.refresh_token:
            self.refresh_token = tokens.refresh_token

    async def logout(self, refresh_token: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = await self.request(
            "POST", "/auth/logout", json={"refresh_token": refresh_token or self.refresh_token}
        )
        return body

    async def me(self, *, path: str = "/users/me") -> UserRead:
        """The caller (`path="/auth/me"` for the alias)."""
        self.user = await self._get(UserRead, path)
        return self.user

    async def update_me(self, *, username: str, email: str) -> UserRead:
        body = await self.request("PUT", "/users/me", json={"username": username, "email": email})
        return _parse(UserRead, body, "PUT /users/me")

    async def change_password(self, current_password: str, new_password: str) -> dict[str, Any]:
        body: dict[str, Any] = await self.request(
            "PUT",
            "/users/me/password",
            json={"current_password": current_password, "new_password": new_password},
        )
        return body

    async def search_users(self, q: str) -> list[UserRef]:
        return await self._get(list[UserRef], "/users", params={"q": q})

    async def jwks(self) -> dict[str, Any]:
        body: dict[str, Any] = await self.request("GET", "/.well-known/jwks.json", auth=False)
        return body

    async def health(self) -> dict[str, Any]:
        body: dict[str, Any] = await self.request("GET", "/health", auth=False)
        return body

    # --- friends and blocks --------------------------------------------------------------------

    async def friends(self) -> list[FriendRead]:
        return await self._get(list[FriendRead], "/friends")

    async def friend_requests(self) -> list[FriendRequestRead]:
        return await self._get(list[FriendRequestRead], "/friends/requests")

    async def send_friend_request(self, username: str) -> dict[str, Any]:
        body: dict[str, Any] = await self.request(
            "POST", "/friends/request", json={"username": username}
        )
        return body

    async def accept_friend_request(self, request_id: int) -> dict[str, Any]:
        body: dict[str, Any] = await self.request("PUT", f"/friends/requests/{request_id}/accept")
        return body

    async def reject_friend_request(self, request_id: int) -> dict[str, Any]:
        body: dict[str, Any] = await self.request("PUT", f"/friends/requests/{request_id}/reject")
        return body

    async def remove_friend(self, user_id: int) -> dict[str, Any]:
        body: dict[str, Any] = await self.request("DELETE", f"/friends/{user_id}")
        return body

    async def blocks(self) -> list[Any]:
        body: list[Any] = await self.request("GET", "/blocks")
        return body

    async def block(self, user_id: int) -> Any:
        return await self.request("POST", "/blocks", json={"user_id": user_id})

    async def unblock(self, user_id: int) -> Any:
        return await self.request("DELETE", f"/blocks/{user_id}")

    # --- conversations -------------------------------------------------------------------------

    async def conversations(
        self, *, order: str | None = None, limit: int | None = None, before: Any = None
    ) -> list[ConversationRead]:
        return await self._get(
            list[ConversationRead],
            "/conversations",
            params={"order": order, "limit": limit, "before": before},
        )

    async def create_conversation(
        self, *, type: str, member_user_ids: list[int], name: str | None = None
    ) -> ConversationRead:
        payload: dict[str, Any] = {"type": type, "member_user_ids": member_user_ids}
        if name is not None:
            payload["name"] = name
        body = await self.request("POST", "/conversations", json=payload)
        return _parse(ConversationRead, body, "POST /conversations")

    async def create_direct(self, user_id: int) -> ConversationRead:
        return await self.create_conversation(type="direct", member_user_ids=[user_id])

    async def create_group(
        self, name: str, member_user_ids: list[int], *, path: str = "/conversations"
    ) -> ConversationRead:
        """A new group (`path="/conversations/groups"` for the alias route)."""
        if path == "/conversations":
            return await self.create_conversation(
                type="group", name=name, member_user_ids=member_user_ids
            )
        body = await self.request(
            "POST", path, json={"name": name, "member_user_ids": member_user_ids}
        )
        return _parse(ConversationRead, body, f"POST {path}")

    async def conversation(self, conversation_id: int) -> ConversationRead:
        return await self._get(ConversationRead, f"/conversations/{conversation_id}")

    async def rename_conversation(self, conversation_id: int, name: str) -> ConversationRead:
        body = await self.request("PUT", f"/conversations/{conversation_id}", json={"name": name})
        return _parse(ConversationRead, body, "PUT /conversations/{id}")

    async def update_conversation_settings(
        self, conversation_id: int, **settings: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = await self.request(
            "PUT", f"/conversations/{conversation_id}/settings", json=settings
        )
        return body

    async def members(self, conversation_id: int) -> list[MemberRead]:
        return await self._get(list[MemberRead], f"/conversations/{conversation_id}/members")

    async def add_member(self, conversation_id: int, user_id: int) -> dict[str, Any]:
        body: dict[str, Any] = await self.request(
            "POST", f"/conversations/{conversation_id}/members", json={"user_id": user_id}
        )
        return body

    async def kick_member(self, conversation_id: int, user_id: int) -> dict[str, Any]:
        body: dict[str, Any] = await self.request(
            "DELETE", f"/conversations/{conversation_id}/members/{user_id}"
        )
        return body

    async def leave_conversation(self, conversation_id: int) -> dict[str, Any]:
        body: dict[str, Any] = await self.request(
            "DELETE", f"/conversations/{conversation_id}/leave"
        )
        return body

    async def transfer_admin(self, conversation_id: int, new_admin_id: int) -> dict[str, Any]:
        body: dict[str, Any] = await self.request(
            "PUT",
            f"/conversations/{conversation_id}/transfer-admin",
            json={"new_admin_id": new_admin_id},
        )
        return body

    async def mark_read(self, conversation_id: int, seq: int) -> dict[str, Any]:
        body: dict[str, Any] = await self.request(
            "POST", f"/conversations/{conversation_id}/read", json={"seq": seq}
        )
        return body

    async def mark_delivered(self, conversation_id: int, seq: int) -> dict[str, Any]:
        body: dict[str, Any] = await self.request(
            "POST", f"/conversations/{conversation_id}/delivered", json={"seq": seq}
        )
        return body

    async def receipts(self, conversation_id: int) -> list[ReceiptRead]:
        return await self._get(list[ReceiptRead], f"/conversations/{conversation_id}/receipts")

    async def unread_count(self) -> UnreadCount:
        return await self._get(UnreadCount, "/conversations/unread-count")

    # --- messages ------------------------------------------------------------------------------

    async def send_message(
        self,
        conversation_id: int,
        content: str,
        *,
        client_msg_id: str | None = None,
        reply_to: int | None = None,
    ) -> MessageRead:
        payload: dict[str, Any] = {"conversation_id": conversation_id, "content": content}
        if client_msg_id is not None:
            payload["client_msg_id"] = client_msg_id
        if reply_to is not None:
            payload["reply_to"] = reply_to
        body = await self.request("POST", "/messages", json=payload)
        return _parse(MessageRead, body, "POST /messages")

    async def messages_page(
        self, conversation_id: int, *, skip: int = 0, limit: int = 50
    ) -> list[MessageRead]:
        """The legacy page: the newest `limit` after skipping `skip`, oldest first."""
        return await self._get(
            list[MessageRead],
            f"/messages/conversation/{conversation_id}",
            params={"skip": skip, "limit": limit},
        )

    async def messages(
        self,
        conversation_id: int,
        *,
        before_seq: int | None = None,
        after_seq: int | None = None,
        limit: int | None = None,
    ) -> list[MessageRead]:
        """A cursor page, oldest first."""
        return await self._get(
            list[MessageRead],
            f"/conversations/{conversation_id}/messages",
            params={"before_seq": before_seq, "after_seq": after_seq, "limit": limit},
        )

    async def messages_after(
        self, conversation_id: int, after_seq: int, *, page: int = 100
    ) -> list[MessageRead]:
        """Every message after `after_seq`, paging forward until the end."""
        out: list[MessageRead] = []
        cursor = after_seq
        for _ in itertools.count():
            batch = await self.messages(conversation_id, after_seq=cursor, limit=page)
            batch = [m for m in batch if m.seq > cursor]
            if not batch:
                return out
            out.extend(batch)
            cursor = max(m.seq for m in batch)
        return out

    async def edit_message(self, message_id: int, content: str) -> MessageRead:
        body = await self.request("PATCH", f"/messages/{message_id}", json={"content": content})
        return _parse(MessageRead, body, "PATCH /messages/{id}")

    async def delete_message(self, message_id: int) -> dict[str, Any]:
        body: dict[str, Any] = await self.request("DELETE", f"/messages/{message_id}")
        return body

    async def add_reaction(self, message_id: int, emoji: str) -> MessageRead:
        path = f"/messages/{message_id}/reactions/{quote(emoji, safe='')}"
        return _parse(MessageRead, await self.request("PUT", path), "PUT reactions")

    async def remove_reaction(self, message_id: int, emoji: str) -> MessageRead:
        path = f"/messages/{message_id}/reactions/{quote(emoji, safe='')}"
        return _parse(MessageRead, await self.request("DELETE", path), "DELETE reactions")

    async def search_messages(
        self, q: str, *, conversation_id: int | None = None
    ) -> list[MessageRead]:
        return await self._get(
            list[MessageRead],
            "/messages/search",
            params={"q": q, "conversation_id": conversation_id},
        )

    # --- notifications and presence ------------------------------------------------------------

    async def notifications(
        self, *, unread_only: bool | None = None, limit: int | None = None, before: Any = None
    ) -> list[NotificationRead]:
        params = {
            "unread_only": None if unread_only is None else str(unread_only).lower(),
            "limit": limit,
            "before": before,
        }
        return await self._get(list[NotificationRead], "/notifications", params=params)

    async def notifications_unread_count(self) -> int:
        body = await self.request("GET", "/notifications/unread-count")
        return int(body["count"])

    async def read_notification(self, notification_id: int) -> dict[str, Any]:
        body: dict[str, Any] = await self.request("POST", f"/notifications/{notification_id}/read")
        return body

    async def read_all_notifications(self) -> dict[str, Any]:
        body: dict[str, Any] = await self.request("POST", "/notifications/read-all")
        return body

    async def delete_notification(self, notification_id: int) -> dict[str, Any]:
        body: dict[str, Any] = await self.request("DELETE", f"/notifications/{notification_id}")
        return body

    async def notification_preferences(self) -> dict[str, Any]:
        body: dict[str, Any] = await self.request("GET", "/notifications/preferences")
        return body

    async def update_notification_preferences(self, **preferences: Any) -> dict[str, Any]:
        body: dict[str, Any] = await self.request(
            "PUT", "/notifications/preferences", json=preferences
        )
        return body

    async def unsubscribe(self, token: str) -> Any:
        return await self.request(
            "GET", "/notifications/unsubscribe", params={"token": token}, auth=False
        )

    async def presence(self, user_ids: Sequence[int]) -> dict[int, PresenceState]:
        body = await self.request(
            "GET", "/presence", params={"user_ids": ",".join(str(u) for u in user_ids)}
        )
        return _parse(dict[int, PresenceState], body, "GET /presence")

    # --- integration API (host application's backend, with an API key) ------------------------

    async def put_context(
        self,
        api_key: str,
        context_type: str,
        context_id: str,
        *,
        title: str,
        participant_user_ids: list[int],
        metadata: dict[str, Any] | None = None,
    ) -> ConversationRead:
        body = await self.request(
            "PUT",
            f"/integrations/contexts/{quote(context_type, safe='')}/{quote(context_id, safe='')}",
            json={
                "title": title,
                "participant_user_ids": participant_user_ids,
                "metadata": metadata or {},
            },
            headers={"Authorization": f"Bearer {api_key}"},
        )
        return _parse(ConversationRead, body, "PUT /integrations/contexts")

    async def post_context_message(
        self,
        api_key: str,
        context_type: str,
        context_id: str,
        *,
        kind: str,
        content: str,
        metadata: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> MessageRead:
        body = await self.request(
            "POST",
            f"/integrations/contexts/{quote(context_type, safe='')}/{quote(context_id, safe='')}/messages",
            json={
                "kind": kind,
                "content": content,
                "metadata": metadata or {},
                "idempotency_key": idempotency_key,
            },
            headers={"Authorization": f"Bearer {api_key}"},
        )
        return _parse(MessageRead, body, "POST /integrations/contexts/messages")

    # --- WebSocket -----------------------------------------------------------------------------

    def ws_urls(self) -> list[str]:
        return [
            "ws" + url[len("http") :] if url.startswith("http") else url for url in self.base_urls
        ]

    async def connect(self, **options: Any) -> Socket:
        """Opens a `Socket` to the gateway(s) with the current access token (see `Socket`)."""
        from .socket import Socket

        socket = Socket(self, **options)
        await socket.start()
        return socket
