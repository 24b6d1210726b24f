"""APNs: HTTP/2 to Apple's provider API with token authentication (an ES256 JWT from the team's
.p8 key, renewed every 50 minutes: Apple refuses tokens older than an hour and renewals more
often than every 20 minutes)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import jwt

from ..models import Device
from .providers import Outcome, Push, Result, result_of

TOKEN_LIFETIME = 50 * 60
# Apple's reasons for a token that will never work again: remove the device.
GONE_REASONS = frozenset({"BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic"})


class ApnsProvider:
    platform = "apns"

    def __init__(
        self,
        *,
        endpoint: str,
        key_pem: str,
        key_id: str,
        team_id: str,
        topic: str,
        ttl: int,
        timeout: float,
    ) -> None:
        self._endpoint = endpoint.rstrip("/")
        self._key = key_pem
        self._key_id = key_id
        self._team_id = team_id
        self._topic = topic
        self._ttl = ttl
        # HTTP/2 only: APNs speaks nothing else (over TLS it is negotiated by ALPN).
        self._http = httpx.AsyncClient(http1=False, http2=True, timeout=timeout)
        self._token: tuple[str, float] | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> ApnsProvider:
        return cls(
            endpoint=settings.apns_endpoint,
            key_pem=Path(settings.apns_key_file).read_text(encoding="utf-8"),
            key_id=settings.apns_key_id,
            team_id=settings.apns_team_id,
            topic=settings.apns_topic,
            ttl=settings.push_ttl_seconds,
            timeout=settings.push_timeout_seconds,
        )

    async def close(self) -> None:
        await self._http.aclose()

    def _bearer(self) -> str:
        now = time.time()
        if self._token is None or now - self._token[1] > TOKEN_LIFETIME:
            token = jwt.encode(
                {"iss": self._team_id, "iat": int(now)},
                self._key,
                algorithm="ES256",
                headers={"kid": self._key_id},
            )
            self._token = (token, now)
        return self._token[0]

    async def send(self, device: Device, push: Push) -> Result:
        aps: dict[str, Any] = {
            "alert": {"title": push.title, "body": push.body},
            "badge": push.badge,
            "sound": "default",
        }
        headers = {
            "authorization": f"bearer {self._bearer()}",
            "apns-topic": self._topic,
            "apns-push-type": "alert",
            "apns-priority": "10",
            "apns-expiration": str(int(time.time()) + self._ttl),
        }
        if push.collapse_key:
            aps["thread-id"] = push.collapse_key
            headers["apns-collapse-id"] = push.collapse_key[:64]
        body = {"aps": aps, "link": push.link, "data": push.data}
        r = await self._http.post(
            f"{self._endpoint}/3/device/{device.token}", json=body, headers=headers
        )
        reason = _reason(r)
        if r.status_code == 400 and reason in GONE_REASONS:
            return Result(Outcome.GONE, 400)
        if r.status_code == 403 and reason == "ExpiredProviderToken":
            self._token = None  # a new token next time
            return Result(Outcome.RETRY, 403)
        return result_of(r, gone=(410,))


def _reason(response: httpx.Response) -> str:
    try:
        return str(response.json().get("reason", ""))
    except ValueError:
        return ""
