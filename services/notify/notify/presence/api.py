"""Presence routes: for users (friends and co-members only) and for other services."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.datastructures import State

from parley_common.auth_deps import CurrentClaims
from parley_common.errors import BadRequest
from parley_common.internal import ServiceCaller
from parley_common.internal_calls import InternalRoute
from parley_common.openapi import errors
from parley_common.schemas import PresenceState, in_int64

from .. import projections
from ..deps import PresenceStoreDep, SessionDep
from ..runtime import notify_runtime

router = APIRouter()
MAX_IDS = 1000


# Digits and commas (empty parts are skipped): what the OpenAPI document says, nothing more
# (int() alone would also take "+1", " 1" and "1_000").
USER_IDS_PATTERN = r"^[0-9]*(,[0-9]*)*$"
_USER_IDS = re.compile(USER_IDS_PATTERN)
# Documented, and checked in parse_user_ids: a mismatch is a 400 (as it always was), not a 422.
UserIdsQuery = Query(
    "",
    description="Comma-separated user ids, at most 1000.",
    json_schema_extra={"pattern": USER_IDS_PATTERN},
)


def parse_user_ids(raw: str) -> list[int]:
    if not _USER_IDS.match(raw):
        raise BadRequest("user_ids must be comma-separated integers", code="invalid_user_ids")
    ids = [int(part) for part in raw.split(",") if part]
    if not all(in_int64(i) for i in ids):
        raise BadRequest("user_ids must be 64-bit integers", code="invalid_user_ids")
    if len(ids) > MAX_IDS:
        raise BadRequest(f"At most {MAX_IDS} user_ids", code="invalid_user_ids")
    return ids


@router.get(
    "/presence",
    response_model=dict[str, PresenceState],
    tags=["presence"],
    responses=errors(400),
)
async def list_presence(
    claims: CurrentClaims,
    session: SessionDep,
    store: PresenceStoreDep,
    user_ids: str = UserIdsQuery,
) -> dict[str, PresenceState]:
    """Online state of the given users that are the caller's friends or co-members."""
    ids = parse_user_ids(user_ids)
    me = claims.user_id
    visible = {
        me,
        *await projections.friend_ids(session, me),
        *await projections.co_member_ids(session, me),
    }
    states = await store.states(i for i in ids if i in visible)
    return {str(uid): state for uid, state in states.items()}


@router.get(
    "/internal/presence",
    response_model=dict[str, PresenceState],
    dependencies=[ServiceCaller],
    tags=["internal"],
)
async def list_presence_internal(
    store: PresenceStoreDep, user_ids: str = Query("")
) -> dict[str, PresenceState]:
    """Online state of any users (for chat's GET /friends and the gateway's accept)."""
    states = await store.states(parse_user_ids(user_ids))
    return {str(uid): state for uid, state in states.items()}


class UserIds(BaseModel):
    user_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(max_length=20_000)


@router.post(
    "/internal/presence/lookup",
    response_model=dict[str, PresenceState],
    dependencies=[ServiceCaller],
    tags=["internal"],
)
async def lookup_presence_internal(
    store: PresenceStoreDep, body: UserIds
) -> dict[str, PresenceState]:
    """Online state of many users at once (the gateway's new sockets: their friends)."""
    states = await store.states(body.user_ids)
    return {str(uid): state for uid, state in states.items()}


def handlers(state: State) -> dict[str, InternalRoute[Any]]:
    """The live path's internal routes as handlers (parley_common.internal_calls)."""

    async def lookup(body: UserIds) -> Any:
        states = await notify_runtime(state).parts.presence.store.states(body.user_ids)
        return {str(uid): s.model_dump(mode="json") for uid, s in states.items()}

    return {"/internal/presence/lookup": InternalRoute(UserIds, lookup)}
