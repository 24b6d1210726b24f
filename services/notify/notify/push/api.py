"""Device routes: a user registers the phones and browsers that get their pushes."""

from __future__ import annotations

import fnmatch

from fastapi import APIRouter

from parley_common.auth_deps import CurrentClaims
from parley_common.openapi import errors
from parley_common.schemas import Int64, StatusOk

from ..deps import PushDep, SessionDep, SettingsDep
from ..errors import DeviceNotFound, PushEndpointRefused, PushUnavailable
from . import devices
from .providers import origin_of
from .schemas import DeviceCreate, DeviceCreated, DeviceRead, WebPushKey

router = APIRouter(prefix="/devices", tags=["devices"])


@router.post(
    "",
    response_model=DeviceCreated,
    responses=errors(400),
)
async def register_device(
    body: DeviceCreate,
    claims: CurrentClaims,
    session: SessionDep,
    settings: SettingsDep,
    push: PushDep,
) -> DeviceCreated:
    """Register this phone or browser for push; it belongs to the calling session (logging out
    removes it). The same token again is the same device."""
    if body.platform not in push.platforms:
        raise PushUnavailable()
    keys = None
    if body.subscription is not None:
        origin = origin_of(body.subscription.endpoint)
        # notify will POST to this URL: only to the push services the deployment allows.
        if not any(fnmatch.fnmatchcase(origin, o) for o in settings.webpush_allowed_origins):
            raise PushEndpointRefused()
        token = body.subscription.endpoint
        keys = body.subscription.keys.model_dump()
    else:
        assert body.token is not None  # the model's validator
        token = body.token
    device = await devices.register_txn(
        session,
        user_id=claims.user_id,
        sid=claims.sid,
        platform=body.platform,
        token=token,
        keys=keys,
        app_version=body.app_version,
        max_per_user=settings.max_devices_per_user,
    )
    return DeviceCreated(id=device.id)


@router.get("", response_model=list[DeviceRead])
async def list_devices(claims: CurrentClaims, session: SessionDep) -> list[DeviceRead]:
    """The caller's devices (tokens are not shown)."""
    return [
        DeviceRead(
            id=d.id,
            platform=d.platform,
            app_version=d.app_version,
            created_at=d.created_at,
            current_session=d.sid == claims.sid,
        )
        for d in await devices.of_user(session, claims.user_id)
    ]


@router.get("/webpush-key", response_model=WebPushKey, responses=errors(400))
async def webpush_key(claims: CurrentClaims, push: PushDep) -> WebPushKey:
    """The VAPID public key a browser subscribes with (`applicationServerKey`)."""
    if push.vapid_public_key is None:
        raise PushUnavailable()
    return WebPushKey(public_key=push.vapid_public_key)


@router.delete("/{device_id:int}", response_model=StatusOk, responses=errors(404))
async def delete_device(device_id: Int64, claims: CurrentClaims, session: SessionDep) -> StatusOk:
    """Stop pushing to one of the caller's devices."""
    if not await devices.delete_owned(session, claims.user_id, device_id):
        raise DeviceNotFound()
    return StatusOk()
