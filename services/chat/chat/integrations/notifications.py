"""Host notifications (`POST /integrations/notifications`): a host product notifies its users of
its own events ("task assigned to you", "due in 24 h"). Chat checks the key and the users and
hands the request to notify through the outbox; notify stores one notification per user (once
per idempotency key), pushes it live and sends it on the channels each user chose for its type.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator

from parley_common.events import NotificationRequested

from .. import publish
from .. import users as user_repo
from ..errors import UserNotFound
from .deps import IntegrationCtx

# Host-defined dotted names: `task.assigned`, `job.accepted`; chat's own types have no dot.
HOST_TYPE = r"^[a-z0-9_]+(\.[a-z0-9_]+)+$"
MAX_DATA_BYTES = 16 * 1024


def _link(value: str | None) -> str | None:
    # A link opens in the user's browser or app: http(s) or a path of the web client only.
    if value is not None and not re.match(r"^(https?://|/)", value):
        raise ValueError("link must be an http(s) URL or a path starting with /")
    return value


def _bounded(data: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(data)) > MAX_DATA_BYTES:
        raise ValueError(f"data must be at most {MAX_DATA_BYTES} bytes as JSON")
    return data


class HostNotificationCreate(BaseModel):
    user_ids: list[Annotated[int, Field(ge=1, le=2**53 - 1)]] = Field(min_length=1, max_length=1000)
    type: str = Field(min_length=3, max_length=64, pattern=HOST_TYPE)
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=2000)
    link: Annotated[str | None, AfterValidator(_link)] = Field(
        default=None, max_length=500, pattern=r"^(https?://|/)"
    )
    data: Annotated[dict[str, Any], AfterValidator(_bounded)] = Field(default_factory=dict)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=128)

    @field_validator("user_ids")
    @classmethod
    def _ids(cls, value: list[int]) -> list[int]:
        return sorted(set(value))


class HostNotificationAccepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    user_ids: list[int]
    type: str
    idempotency_key: str | None


async def request(ctx: IntegrationCtx, body: HostNotificationCreate) -> HostNotificationAccepted:
    users = await user_repo.get_many(ctx.session, body.user_ids)
    if any(u not in users for u in body.user_ids):
        raise UserNotFound()
    event = NotificationRequested(
        user_ids=body.user_ids,
        type=body.type,
        title=body.title.strip() or body.title,
        body=body.body,
        link=body.link,
        data=body.data,
        idempotency_key=body.idempotency_key,
        source=ctx.key_name,
    )
    await publish.to_services(ctx.session, ctx.outbox, event)
    return HostNotificationAccepted(
        user_ids=body.user_ids, type=body.type, idempotency_key=body.idempotency_key
    )
