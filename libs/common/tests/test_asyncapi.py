"""The AsyncAPI document is generated from the models and covers the whole protocol."""

from __future__ import annotations

import json
from pathlib import Path

from parley_common.asyncapi import build

# Every frame PROTOCOL.md section 2 names.
CLIENT_FRAMES = {
    "ping",
    "join_conversation",
    "leave_conversation",
    "send_message",
    "typing",
    "mark_read",
    "mark_delivered",
    "resume",
    "auth",
}
SERVER_FRAMES = {
    "pong",
    "connected",
    "joined_conversation",
    "left_conversation",
    "ack",
    "error",
    "new_message",
    "message_edited",
    "message_deleted",
    "reaction_updated",
    "read_receipt",
    "delivery_receipt",
    "viewers",
    "typing",
    "user_online",
    "user_offline",
    "conversation_created",
    "conversation_updated",
    "member_added",
    "member_kicked",
    "kicked_from_conversation",
    "friend_request",
    "friend_accepted",
    "notification",
    "token_expiring",
    "resumed",
    "resync_required",
}


def test_every_protocol_frame_is_documented() -> None:
    doc = build()
    channel = doc["channels"]["websocket"]["messages"]
    assert {k.removeprefix("client_") for k in channel if k.startswith("client_")} >= CLIENT_FRAMES
    assert {k.removeprefix("server_") for k in channel if k.startswith("server_")} >= SERVER_FRAMES


def test_every_reference_resolves() -> None:
    doc = build()
    text = json.dumps(doc)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "')[1:]}:
        node = doc
        for key in ref.removeprefix("#/").split("/"):
            assert key in node, f"dangling reference {ref}"
            node = node[key]


def test_committed_document_is_current() -> None:
    committed = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.json"
    assert json.loads(committed.read_text()) == build(), (
        "run `make docs` and commit docs/asyncapi.json"
    )
