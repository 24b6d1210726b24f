"""Routes of the integration API (PROTOCOL.md section 3), for the host application's backend."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import AfterValidator, BaseModel, Field

from parley_common.openapi import errors
from parley_common.schemas import ConversationRead, Int64, MessageRead

from . import notifications, service
from .deps import IntegrationCtxDep

router = APIRouter(prefix="/integrations", tags=["integrations"])

# Path-safe ids: the gateway refuses percent-encoded and dot segments.
ContextType = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
ContextId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@~\-]+$")]
MAX_METADATA_BYTES = 16 * 1024


def _bounded(metadata: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata must be at most {MAX_METADATA_BYTES} bytes as JSON")
    return metadata


Metadata = Annotated[dict[str, Any], AfterValidator(_bounded)]


class ContextPut(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    participant_user_ids: list[Int64] = Field(max_length=1000)
    metadata: Metadata = Field(default_factory=dict)


class ContextMessageCreate(BaseModel):
    kind: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_.\-]+$")
    # Not blank after trimming (the service's rule, with its own 422 text): documented only.
    content: str = Field(json_schema_extra={"pattern": r"\S"})
    metadata: Metadata = Field(default_factory=dict)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=128)


@router.put(
    "/contexts/{context_type}/{context_id}",
    response_model=ConversationRead,
    responses=errors(400, 404),
)
async def put_context(
    context_type: ContextType, context_id: ContextId, body: ContextPut, ctx: IntegrationCtxDep
) -> ConversationRead:
    """Create or update the conversation bound to a host object; participants become the list."""
    return await service.put_context(
        ctx,
        context_type=context_type,
        context_id=context_id,
        title=body.title,
        participant_user_ids=body.participant_user_ids,
        metadata=body.metadata,
    )


@router.get(
    "/contexts/{context_type}/{context_id}",
    response_model=ConversationRead,
    responses=errors(404),
)
async def get_context(
    context_type: ContextType, context_id: ContextId, ctx: IntegrationCtxDep
) -> ConversationRead:
    """The conversation bound to a host object, with its context."""
    return await service.get_context(ctx, context_type=context_type, context_id=context_id)


@router.post(
    "/contexts/{context_type}/{context_id}/messages",
    response_model=MessageRead,
    responses=errors(404),
)
async def post_message(
    context_type: ContextType,
    context_id: ContextId,
    body: ContextMessageCreate,
    ctx: IntegrationCtxDep,
) -> MessageRead:
    """Post a system message (payment, dispute, job update, ...); an idempotency_key posts once."""
    return await service.post_message(
        ctx,
        context_type=context_type,
        context_id=context_id,
        kind=body.kind,
        content=body.content,
        metadata=body.metadata,
        idempotency_key=body.idempotency_key,
    )


@router.post(
    "/notifications",
    response_model=notifications.HostNotificationAccepted,
    responses=errors(400, 404),
)
async def post_notification(
    body: notifications.HostNotificationCreate, ctx: IntegrationCtxDep
) -> notifications.HostNotificationAccepted:
    """Notify users of a host event (`task.assigned`, ...): one notification per user, delivered
    on the channels each user chose for the type; the same idempotency_key again adds nothing."""
    return await notifications.request(ctx, body)
