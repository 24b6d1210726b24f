"""`resume`: replay every message after the client's cursors, in seq order, then `resumed`."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import ValidationError

from parley_common import frames as fr
from parley_common.schemas import MessageRead

from .chat_calls import ChatError, call
from .connection import Connection


def _page_items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key in ("messages", "items"):
            if isinstance(body.get(key), list):
                return list(body[key])
    return []


async def missed_messages(
    chat: httpx.AsyncClient,
    conn: Connection,
    conversation_id: int,
    after_seq: int,
    *,
    page_size: int,
    limit: int,
) -> list[MessageRead] | None:
    """Messages after `after_seq` in seq order; None when there are more than `limit`."""
    found: dict[int, MessageRead] = {}
    cursor = after_seq
    while True:
        response = await call(
            chat,
            conn,
            "GET",
            f"/conversations/{conversation_id}/messages",
            params={"after_seq": cursor, "limit": page_size},
        )
        page = [MessageRead.model_validate(m) for m in _page_items(response.json())]
        for message in page:
            if message.seq > after_seq:
                found[message.seq] = message
        if len(found) > limit:
            return None
        if len(page) < page_size:
            break
        next_cursor = max(m.seq for m in page)
        if next_cursor <= cursor:
            break
        cursor = next_cursor
    return [found[seq] for seq in sorted(found)]


async def _paced(conn: Connection, frame: fr.Frame, timeout: float = 10.0) -> bool:
    """Send one frame of a replay; when the socket falls behind, wait for it (a reader stalled
    for `timeout` is closed with 4008) rather than overflowing its backlog."""
    if conn.backlog > conn.queue_size // 2 and not await conn.wait_writable(timeout):
        conn.close(fr.CLOSE_TOO_SLOW, "send queue full")
        return False
    return conn.send(frame)


async def replay(
    chat: httpx.AsyncClient,
    conn: Connection,
    cursors: dict[int, int],
    *,
    page_size: int,
    limit: int,
) -> None:
    for conversation_id, after_seq in sorted(cursors.items()):
        try:
            messages = await missed_messages(
                chat, conn, conversation_id, after_seq, page_size=page_size, limit=limit
            )
        except ChatError as exc:
            frame = exc.frame.model_copy(update={"conversation_id": conversation_id})
            await _paced(conn, frame)
            continue
        except ValidationError:
            await _paced(conn, fr.ResyncRequiredFrame(conversation_id=conversation_id))
            continue
        if messages is None:
            await _paced(conn, fr.ResyncRequiredFrame(conversation_id=conversation_id))
            continue
        for message in messages:
            if not await _paced(conn, fr.NewMessageFrame(message=message)):
                return
    await _paced(conn, fr.ResumedFrame())
