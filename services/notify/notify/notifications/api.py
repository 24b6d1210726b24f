"""Notification routes: the caller's notifications, preferences, and the email unsubscribe link."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from parley_common.auth_deps import CurrentClaims
from parley_common.openapi import errors
from parley_common.schemas import JSON_INT_MAX, JSON_INT_MIN, Int64, NotificationRead, StatusOk

from ..deps import SessionDep, SettingsDep
from ..emails import notification_emails, scheduler, unsubscribe
from ..errors import InvalidUnsubscribeToken
from . import channels, preferences, repository, service
from .schemas import (
    ChannelChange,
    ChannelType,
    PreferencesRead,
    PreferencesUpdate,
    UnreadCount,
    UnsubscribeResult,
)

UnsubscribeType = Annotated[
    ChannelType | None, Query(description="The type a notification's email is about.")
]

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get("", response_model=list[NotificationRead])
async def list_notifications(
    claims: CurrentClaims,
    session: SessionDep,
    unread_only: bool = False,
    limit: int = Query(50, ge=1, le=100),
    before: Int64 | None = Query(
        None,
        description="Only notifications with a smaller id (paging).",
        ge=JSON_INT_MIN,
        le=JSON_INT_MAX,
    ),
    type: str | None = Query(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[a-z0-9_]+(\.[a-z0-9_]*)*$",
        description="Only this type and its dotted subtypes; a trailing dot (`task.`) lists "
        "every type under it.",
    ),
) -> list[NotificationRead]:
    """The caller's notifications, newest first."""
    rows = await service.list_notifications(
        session,
        claims.user_id,
        unread_only=unread_only,
        limit=limit,
        before=before,
        type_prefix=type,
    )
    return [NotificationRead.model_validate(n) for n in rows]


@router.get("/unread-count", response_model=UnreadCount)
async def unread_count(claims: CurrentClaims, session: SessionDep) -> UnreadCount:
    """How many of the caller's notifications are unread, in total and per type."""
    by_type = await repository.count_unread_by_type(session, claims.user_id)
    return UnreadCount(count=sum(by_type.values()), by_type=by_type)


@router.post("/read-all", response_model=StatusOk)
async def read_all(claims: CurrentClaims, session: SessionDep) -> StatusOk:
    """Mark every notification of the caller read."""
    await repository.mark_all_read(session, claims.user_id)
    return StatusOk()


@router.get("/preferences", response_model=PreferencesRead)
async def get_preferences(
    claims: CurrentClaims, session: SessionDep, settings: SettingsDep
) -> PreferencesRead:
    """The caller's notification preferences."""
    prefs = await preferences.get(session, claims.user_id)
    return preferences.to_read(prefs, settings.email_delay_seconds)


@router.put("/preferences", response_model=PreferencesRead)
async def update_preferences(
    change: PreferencesUpdate, claims: CurrentClaims, session: SessionDep, settings: SettingsDep
) -> PreferencesRead:
    """Change the caller's notification preferences (fields left out keep their value)."""
    prefs = await preferences.update(session, claims.user_id, change)
    if not prefs.email_missed_messages:
        await scheduler.cancel_all_txn(session, claims.user_id)
    return preferences.to_read(prefs, settings.email_delay_seconds)


@router.get("/unsubscribe", response_model=UnsubscribeResult, responses=errors(400))
async def unsubscribe_link(
    token: str, session: SessionDep, settings: SettingsDep, type: UnsubscribeType = None
) -> UnsubscribeResult:
    """Turn email off from the link in an email (no login: the token is signed): every email,
    or with `type` (a notification's email) that type's."""
    return await _unsubscribe(token, type, session, settings)


@router.post("/unsubscribe", response_model=UnsubscribeResult, responses=errors(400))
async def unsubscribe_one_click(
    token: str, session: SessionDep, settings: SettingsDep, type: UnsubscribeType = None
) -> UnsubscribeResult:
    """RFC 8058 one-click unsubscribe (what mail clients POST for List-Unsubscribe-Post)."""
    return await _unsubscribe(token, type, session, settings)


async def _unsubscribe(
    token: str, type_: str | None, session: SessionDep, settings: SettingsDep
) -> UnsubscribeResult:
    user_id = unsubscribe.read_token(settings.unsubscribe_secret, token, type_)
    if user_id is None:
        raise InvalidUnsubscribeToken()
    if type_ is not None:
        change = {type_: ChannelChange(email=False)}
        await preferences.update(session, user_id, PreferencesUpdate(channels=change))
        await notification_emails.cancel_type_txn(session, user_id, type_)
        return UnsubscribeResult(message=f"You will get no more emails about {type_}")
    # Every email: missed messages, the digest, and each type's email (`host` for host types).
    no_email = {t: ChannelChange(email=False) for t in channels.BUILT_IN}
    await preferences.update(
        session,
        user_id,
        PreferencesUpdate(email_missed_messages=False, digest="off", channels=no_email),
    )
    await scheduler.cancel_all_txn(session, user_id)
    await notification_emails.cancel_type_txn(session, user_id, None)
    return UnsubscribeResult()


@router.post("/{notification_id:int}/read", response_model=StatusOk, responses=errors(404))
async def mark_read(notification_id: Int64, claims: CurrentClaims, session: SessionDep) -> StatusOk:
    """Mark one of the caller's notifications read."""
    await service.mark_read(session, claims.user_id, notification_id)
    return StatusOk()


@router.delete("/{notification_id:int}", response_model=StatusOk, responses=errors(404))
async def delete_notification(
    notification_id: Int64, claims: CurrentClaims, session: SessionDep
) -> StatusOk:
    """Delete one of the caller's notifications."""
    await service.delete(session, claims.user_id, notification_id)
    return StatusOk()
