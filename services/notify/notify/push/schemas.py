"""Request and response models of the device routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from parley_common.schemas import Int64

Platform = Literal["webpush", "fcm", "apns"]
# base64url without padding, as browsers give PushSubscription keys.
B64Url = Annotated[str, Field(min_length=16, max_length=200, pattern=r"^[A-Za-z0-9_-]+=*$")]


class SubscriptionKeys(BaseModel):
    p256dh: B64Url
    auth: B64Url


class Subscription(BaseModel):
    """What a browser's `PushSubscription.toJSON()` gives."""

    endpoint: str = Field(min_length=10, max_length=1000, pattern=r"^https?://")
    keys: SubscriptionKeys
    expirationTime: float | None = None


class DeviceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: Platform
    token: str | None = Field(
        default=None,
        min_length=8,
        max_length=1000,
        pattern=r"^[A-Za-z0-9_:.\-]+$",
        description="FCM or APNs device token (not for webpush).",
    )
    subscription: Subscription | None = Field(
        default=None, description="Web Push subscription (webpush only)."
    )
    app_version: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _one_address(self) -> DeviceCreate:
        if (self.platform == "webpush") != (self.subscription is not None) or (
            self.platform != "webpush" and self.token is None
        ):
            raise ValueError("webpush takes `subscription`; fcm and apns take `token`")
        if self.platform == "webpush" and self.token is not None:
            raise ValueError("webpush takes `subscription`, not `token`")
        return self


class DeviceCreated(BaseModel):
    id: Int64


class DeviceRead(BaseModel):
    id: Int64
    platform: Platform
    app_version: str | None
    created_at: datetime
    current_session: bool = Field(description="Registered in the session making this request.")


class WebPushKey(BaseModel):
    public_key: str = Field(description="The VAPID public key (applicationServerKey).")
