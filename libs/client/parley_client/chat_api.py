"""Routes of chat: friends, blocks, conversations, members and receipts."""

from __future__ import annotations

from typing import Any

from .base import RestBase
from .models import MemberRead, ReceiptRead, UnreadCount, parse
from .wire import schemas

ConversationRead = schemas.ConversationRead
FriendRead = schemas.FriendRead
FriendRequestRead = schemas.FriendRequestRead


class ChatApi(RestBase):
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
        return parse(ConversationRead, body, "POST /conversations")

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
        return parse(ConversationRead, body, f"POST {path}")

    async def conversation(self, conversation_id: int) -> ConversationRead:
        return await self._get(ConversationRead, f"/conversations/{conversation_id}")

    async def rename_conversation(self, conversation_id: int, name: str) -> ConversationRead:
        body = await self.request("PUT", f"/conversations/{conversation_id}", json={"name": name})
        return parse(ConversationRead, body, "PUT /conversations/{id}")

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
