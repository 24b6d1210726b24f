"""Small in-process fakes of chat's and notify's HTTP APIs, publishing on the in-memory bus."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jwt
from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse

from parley_common.bus import Bus
from parley_common.events import MessageCreated, ReceiptUpdated, conv_key, envelope


def _user(authorization: str | None) -> int:
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(401, "Not authenticated")
    claims = jwt.decode(authorization[7:], options={"verify_signature": False})
    return int(claims["sub"])


class FakeChat:
    """Conversations with members; messages with per-conversation seq; events on the bus."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.members: dict[int, set[int]] = {}
        self.friends: dict[int, set[int]] = {}
        self.messages: dict[int, list[dict[str, Any]]] = {}
        self.blocked: set[tuple[int, int]] = set()  # (sender, conversation) refused with 403
        self.down = False
        #: The users of every socket-setup lookup asked, in order.
        self.lookups: list[int] = []
        self.app = self._build()

    def add_conversation(self, conversation_id: int, members: set[int]) -> None:
        self.members[conversation_id] = set(members)
        self.messages.setdefault(conversation_id, [])

    def store_message(
        self, conversation_id: int, sender_id: int, content: str, cmid: str | None = None
    ) -> dict[str, Any]:
        msgs = self.messages[conversation_id]
        message = {
            "id": conversation_id * 100000 + len(msgs) + 1,
            "conversation_id": conversation_id,
            "seq": len(msgs) + 1,
            "sender_id": sender_id,
            "sender_username": f"user{sender_id}",
            "content": content,
            "type": "text",
            "client_msg_id": cmid,
            "reply_to": None,
            "mentions": [],
            "reactions": {},
            "created_at": datetime.now(UTC).isoformat(),
            "edited_at": None,
            "deleted": False,
        }
        msgs.append(message)
        return message

    async def publish_created(self, message: dict[str, Any]) -> None:
        cid = message["conversation_id"]
        env = envelope(
            MessageCreated.model_validate(
                {"message": message, "member_ids": sorted(self.members[cid])}
            ),
            producer="chat",
        )
        await self.bus.publish(conv_key(cid, env.type), env.model_dump_json().encode())

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def outage(request: Request, call_next: Any) -> Any:
            if self.down:
                return JSONResponse({"detail": "down"}, status_code=503)
            return await call_next(request)

        @app.post("/messages")
        async def send(body: dict[str, Any], authorization: str | None = Header(None)) -> Any:
            user = _user(authorization)
            cid = body.get("conversation_id")
            if not isinstance(cid, int) or user not in self.members.get(cid, set()):
                return JSONResponse(
                    {"detail": "Conversation not found or access denied", "code": "not_found"}, 404
                )
            if (user, cid) in self.blocked:
                return JSONResponse(
                    {"detail": "You cannot message this user", "code": "blocked"}, 403
                )
            message = self.store_message(cid, user, body["content"], body.get("client_msg_id"))
            await self.publish_created(message)
            return message

        @app.post("/internal/messages")
        async def send_batch(body: dict[str, Any]) -> Any:
            results: list[dict[str, Any]] = []
            for send in body["sends"]:
                user, cid = send["sender_id"], send["conversation_id"]
                if user not in self.members.get(cid, set()):
                    detail, code, status = (
                        "Conversation not found or access denied",
                        "not_found",
                        404,
                    )
                elif (user, cid) in self.blocked:
                    detail, code, status = "You cannot message this user", "blocked", 403
                else:
                    message = self.store_message(cid, user, send["content"], send["client_msg_id"])
                    await self.publish_created(message)
                    results.append({"message": message})
                    continue
                results.append({"error": {"status": status, "detail": detail, "code": code}})
            return {"results": results}

        @app.post("/internal/users/lookup")
        async def lookup(body: dict[str, Any]) -> Any:
            self.lookups += body["user_ids"]
            return {
                "users": {
                    uid: {
                        "friend_ids": sorted(self.friends.get(uid, set())),
                        "conversation_ids": sorted(c for c, m in self.members.items() if uid in m),
                    }
                    for uid in body["user_ids"]
                }
            }

        @app.get("/conversations/{cid}/messages")
        async def page(
            cid: int, after_seq: int = 0, limit: int = 50, authorization: str | None = Header(None)
        ) -> Any:
            if _user(authorization) not in self.members.get(cid, set()):
                return JSONResponse({"detail": "Conversation not found"}, 404)
            limit = min(limit, 100)
            return [m for m in self.messages[cid] if m["seq"] > after_seq][:limit]

        @app.post("/conversations/{cid}/{kind}")
        async def mark(
            cid: int, kind: str, body: dict[str, Any], authorization: str | None = Header(None)
        ) -> Any:
            user = _user(authorization)
            if user not in self.members.get(cid, set()):
                return JSONResponse({"detail": "Conversation not found"}, 404)
            data = ReceiptUpdated(
                conversation_id=cid, user_id=user, kind=kind, seq=body["seq"], at=datetime.now(UTC)
            )
            env = envelope(data, producer="chat")
            await self.bus.publish(conv_key(cid, env.type), env.model_dump_json().encode())
            return {"status": "ok"}

        @app.get("/conversations")
        async def conversations(request: Request) -> Any:
            return {
                "echo": {
                    "authorization": request.headers.get("authorization"),
                    "x-forwarded-for": request.headers.get("x-forwarded-for"),
                    "x-request-id": request.headers.get("x-request-id"),
                    "query": str(request.url.query),
                }
            }

        @app.get("/internal/users/{uid}/friends")
        async def friends(uid: int) -> Any:
            return {"friend_ids": sorted(self.friends.get(uid, set()))}

        @app.get("/internal/users/{uid}/conversations")
        async def user_conversations(uid: int) -> Any:
            return {"conversation_ids": sorted(c for c, m in self.members.items() if uid in m)}

        @app.get("/internal/conversations/{cid}/members/{uid}")
        async def member(cid: int, uid: int) -> Any:
            return {"member": uid in self.members.get(cid, set())}

        return app


def fake_notify(online: set[int]) -> FastAPI:
    app = FastAPI()

    @app.post("/internal/presence/lookup")
    async def lookup(body: dict[str, Any]) -> Any:
        return {
            str(i): {
                "online": i in online,
                "last_seen": None if i in online else "2024-01-01T00:00:00Z",
            }
            for i in body["user_ids"]
        }

    @app.get("/internal/presence")
    async def presence(user_ids: str) -> Any:
        return {
            i: {
                "online": int(i) in online,
                "last_seen": None if int(i) in online else "2024-01-01T00:00:00Z",
            }
            for i in user_ids.split(",")
        }

    return app
