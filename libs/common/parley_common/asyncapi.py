"""Generates the AsyncAPI 3 document of the WebSocket and event protocol from the schema models
(`make docs` writes it to docs/asyncapi.json). The models are the single source."""

from __future__ import annotations

import json
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import frames
from .events import EVENT_TYPES, Envelope


def _union_members(union: Any) -> list[type[BaseModel]]:
    inner = typing.get_args(union)[0]  # Annotated[Union[...], Field(...)]
    return [m for m in typing.get_args(inner) if isinstance(m, type) and issubclass(m, BaseModel)]


def _frame_type(model: type[BaseModel]) -> str:
    annotation = model.model_fields["type"].annotation
    return str(typing.get_args(annotation)[0])


def build() -> dict[str, Any]:
    client = _union_members(frames.ClientFrame)
    server = _union_members(frames.ServerFrame)
    events = list(EVENT_TYPES.values())
    models: list[type[BaseModel]] = [*client, *server, *events, Envelope]
    _, defs = models_json_schema(
        [(m, "serialization") for m in models], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = defs.get("$defs", {})

    messages: dict[str, Any] = {}
    # `typing` is both a client and a server frame, so names carry the direction.
    for direction, model in [("client", m) for m in client] + [("server", m) for m in server]:
        name = f"{direction}_{_frame_type(model)}"
        messages[name] = {
            "name": _frame_type(model),
            "title": model.__name__,
            "summary": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else "",
            "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
        }
    for event_type, model in EVENT_TYPES.items():
        messages[f"event_{event_type.replace('.', '_')}"] = {
            "name": event_type,
            "title": model.__name__,
            "summary": f"Envelope whose `type` is `{event_type}` and whose `data` is {model.__name__}.",
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/Envelope"},
                    {"properties": {"data": {"$ref": f"#/components/schemas/{model.__name__}"}}},
                ]
            },
        }

    def refs(prefix: str, names: list[str]) -> dict[str, Any]:
        return {prefix + n: {"$ref": f"#/components/messages/{prefix}{n}"} for n in names}

    client_names = [_frame_type(m) for m in client]
    server_names = [_frame_type(m) for m in server]
    event_names = [t.replace(".", "_") for t in EVENT_TYPES]  # message keys: event_<name>
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Parley WebSocket and event protocol",
            "version": "1.0.0",
            "description": "Generated from libs/common/parley_common (frames.py, events.py). "
            "See shared/design/PROTOCOL.md section 2 and ARCHITECTURE.md, Events.",
        },
        "servers": {
            "gateway": {"host": "127.0.0.1:8000", "protocol": "ws", "pathname": "/ws"},
            "broker": {"host": "127.0.0.1:5672", "protocol": "amqp"},
        },
        "channels": {
            "websocket": {
                "address": "/ws/{token}",
                "servers": [{"$ref": "#/servers/gateway"}],
                "parameters": {
                    "token": {"description": "Access token (or ?token=, header, auth frame)"}
                },
                "messages": {**refs("client_", client_names), **refs("server_", server_names)},
            },
            "events": {
                "address": "parley.events",
                "description": "Durable topic exchange; routing keys conv.<id>.<type>, user.<id>.<type>, svc.<type>.",
                "servers": [{"$ref": "#/servers/broker"}],
                "messages": refs("event_", event_names),
            },
        },
        "operations": {
            "clientSends": {
                "action": "receive",
                "channel": {"$ref": "#/channels/websocket"},
                "messages": [
                    {"$ref": f"#/channels/websocket/messages/client_{n}"} for n in client_names
                ],
            },
            "serverSends": {
                "action": "send",
                "channel": {"$ref": "#/channels/websocket"},
                "messages": [
                    {"$ref": f"#/channels/websocket/messages/server_{n}"} for n in server_names
                ],
            },
            "publishEvent": {
                "action": "send",
                "channel": {"$ref": "#/channels/events"},
                "messages": [
                    {"$ref": f"#/channels/events/messages/event_{n}"} for n in event_names
                ],
            },
        },
        "components": {"schemas": schemas, "messages": messages},
    }


def main() -> None:
    print(json.dumps(build(), indent=2, sort_keys=False))


if __name__ == "__main__":
    main()
