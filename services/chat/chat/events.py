"""Handlers for the events chat consumes (queue `chat.events`)."""

from __future__ import annotations

from parley_common.consumer import EventHandler

from . import users

QUEUE = "chat.events"
BINDINGS = ["svc.user.*"]
HANDLERS: dict[str, EventHandler] = {
    "user.registered": users.upsert,
    "user.updated": users.upsert,
}
