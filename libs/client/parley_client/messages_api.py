"""Routes of messages, notifications, presence and the integration API."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from .base import RestBase, raise_for
from .models import parse
from .wire import schemas

AttachmentRead = schemas.AttachmentRead
ConversationRead = schemas.ConversationRead
MessageRead = schemas.MessageRead
NotificationRead = schemas.NotificationRead
PresenceState = schemas.PresenceState


class MessagesApi(RestBase):
    # --- messages ------------------------------------------------------------------------------

    async def send_message(
        self,
        conversation_id: int,
        content: str,
        *,
        client_msg_id: str | None = None,
        reply_to: int | None = None,
        attachment_ids: Sequence[int] = (),
    ) -> MessageRead:
        payload: dict[str, Any] = {"conversation_id": conversation_id, "content": content}
        if attachment_ids:
            payload["attachment_ids"] = list(attachment_ids)
        if client_msg_id is not None:
            payload["client_msg_id"] = client_msg_id
        if reply_to is not None:
            payload["reply_to"] = reply_to
        body = await self.request("POST", "/messages", json=payload)
        return parse(MessageRead, body, "POST /messages")

    async def upload_attachment(
        self, data: bytes, filename: str = "file", content_type: str = "application/octet-stream"
    ) -> AttachmentRead:
        """Uploads a file to attach to a message (`attachment_ids` of a send)."""
        response = await self._send(
            "POST",
            "/attachments",
            files={"file": (filename, data, content_type)},
            headers=self._auth_headers(),
        )
        if response.status_code >= 400:
            raise_for(response)
        return parse(AttachmentRead, response.json(), "POST /attachments")

    async def download(self, url: str) -> bytes:
        """An attachment's bytes (or its thumbnail's) by the `url` an attachment object gives."""
        response = await self._send("GET", url, headers=self._auth_headers())
        if response.status_code >= 400:
            raise_for(response)
        return response.content

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
        return parse(MessageRead, body, "PATCH /messages/{id}")

    async def delete_message(self, message_id: int) -> dict[str, Any]:
        body: dict[str, Any] = await self.request("DELETE", f"/messages/{message_id}")
        return body

    async def add_reaction(self, message_id: int, emoji: str) -> MessageRead:
        path = f"/messages/{message_id}/reactions/{quote(emoji, safe='')}"
        return parse(MessageRead, await self.request("PUT", path), "PUT reactions")

    async def remove_reaction(self, message_id: int, emoji: str) -> MessageRead:
        path = f"/messages/{message_id}/reactions/{quote(emoji, safe='')}"
        return parse(MessageRead, await self.request("DELETE", path), "DELETE reactions")

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
        return parse(dict[int, PresenceState], body, "GET /presence")

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
        return parse(ConversationRead, body, "PUT /integrations/contexts")

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
        return parse(MessageRead, body, "POST /integrations/contexts/messages")
