"""Notify's errors, with stable codes."""

from __future__ import annotations

from parley_common.errors import BadRequest, NotFound


class NotificationNotFound(NotFound):
    code, detail = "notification_not_found", "Notification not found"


class InvalidUnsubscribeToken(BadRequest):
    code, detail = "invalid_unsubscribe_token", "Invalid or expired unsubscribe link"


class DeviceNotFound(NotFound):
    code, detail = "device_not_found", "Device not found"


class PushUnavailable(BadRequest):
    code, detail = "push_unavailable", "Push is not configured for this platform"


class PushEndpointRefused(BadRequest):
    code, detail = "push_endpoint_refused", "This push service is not allowed"
