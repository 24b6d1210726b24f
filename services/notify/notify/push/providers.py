"""Push providers behind one interface: Web Push (VAPID, RFC 8291 encryption, with pywebpush)
and FCM (HTTP v1, OAuth bearer from a service account). Each turns a `Push` into the request
its service expects and reads the answer as sent, gone (remove the device), retry or failed."""

from __future__ import annotations

import base64
import enum
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid
from pywebpush import WebPusher

from ..models import Device


@dataclass(frozen=True, slots=True)
class Push:
    title: str
    body: str
    badge: int
    collapse_key: str | None = None
    link: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class Outcome(enum.Enum):
    SENT = "sent"
    GONE = "gone"  # the token or subscription expired: remove the device
    RETRY = "retry"  # 429 or 5xx: try again later
    FAILED = "failed"  # refused for good (a bad request): give up on this push


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    status: int = 0
    retry_after: float | None = None


class Provider(Protocol):
    platform: str

    async def send(self, device: Device, push: Push) -> Result: ...


def result_of(response: httpx.Response, gone: tuple[int, ...] = (404, 410)) -> Result:
    status = response.status_code
    if 200 <= status < 300:
        return Result(Outcome.SENT, status)
    if status in gone:
        return Result(Outcome.GONE, status)
    if status == 429 or status >= 500:
        retry_after = response.headers.get("retry-after", "")
        return Result(Outcome.RETRY, status, float(retry_after) if retry_after.isdigit() else None)
    return Result(Outcome.FAILED, status)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# Web Push's Topic header: at most 32 characters of the URL-safe base64 alphabet.
_NOT_TOPIC = re.compile(r"[^A-Za-z0-9_-]")


def topic(collapse_key: str) -> str:
    return _NOT_TOPIC.sub("-", collapse_key)[:32]


def vapid_public_key(vapid: Vapid) -> str:
    """The VAPID public key browsers subscribe with (base64url, uncompressed point)."""
    raw = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class WebPushProvider:
    platform = "webpush"

    def __init__(
        self, *, private_key: str, subject: str, ttl: int, http: httpx.AsyncClient
    ) -> None:
        self._vapid = Vapid.from_string(private_key)
        self._subject = subject
        self._ttl = ttl
        self._http = http

    @property
    def public_key(self) -> str:
        return vapid_public_key(self._vapid)

    async def send(self, device: Device, push: Push) -> Result:
        subscription = {"endpoint": device.token, "keys": device.keys or {}}
        payload = {
            "title": push.title,
            "body": push.body,
            "badge": push.badge,
            "tag": push.collapse_key,
            "link": push.link,
            "data": push.data,
        }
        # RFC 8291 (aes128gcm) with the subscription's keys.
        body = WebPusher(subscription).encode(json.dumps(payload).encode())["body"]
        # RFC 8292: a JWT for the push service's origin, signed with our VAPID key.
        claims = {
            "sub": self._subject,
            "aud": origin_of(device.token),
            "exp": int(time.time()) + 12 * 3600,
        }
        headers = {
            **self._vapid.sign(claims),
            "TTL": str(self._ttl),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Urgency": "high",
        }
        if push.collapse_key:
            headers["Topic"] = topic(push.collapse_key)
        return result_of(await self._http.post(device.token, content=body, headers=headers))


FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class FcmProvider:
    """FCM HTTP v1: an OAuth access token from the service account (kept until shortly before
    it expires), then one `messages:send` per device."""

    platform = "fcm"

    def __init__(self, *, service_account: dict[str, str], endpoint: str, http: httpx.AsyncClient):
        self._account = service_account
        self._url = (
            f"{endpoint.rstrip('/')}/v1/projects/{service_account['project_id']}/messages:send"
        )
        self._http = http
        self._token: tuple[str, float] | None = None

    @classmethod
    def from_file(cls, path: str, *, endpoint: str, http: httpx.AsyncClient) -> FcmProvider:
        account = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(service_account=account, endpoint=endpoint, http=http)

    async def _access_token(self) -> str:
        now = time.time()
        if self._token is not None and self._token[1] > now + 60:
            return self._token[0]
        account = self._account
        assertion = jwt.encode(
            {
                "iss": account["client_email"],
                "scope": FCM_SCOPE,
                "aud": account["token_uri"],
                "iat": int(now),
                "exp": int(now) + 3600,
            },
            account["private_key"],
            algorithm="RS256",
        )
        r = await self._http.post(
            account["token_uri"], data={"grant_type": JWT_BEARER, "assertion": assertion}
        )
        r.raise_for_status()
        answer = r.json()
        self._token = (answer["access_token"], now + float(answer.get("expires_in", 3600)))
        return self._token[0]

    async def send(self, device: Device, push: Push) -> Result:
        message: dict[str, Any] = {
            "token": device.token,
            "notification": {"title": push.title, "body": push.body},
            # FCM data values are strings.
            "data": {k: v if isinstance(v, str) else json.dumps(v) for k, v in push.data.items()},
            "android": {"notification": {"notification_count": push.badge}},
            "apns": {"payload": {"aps": {"badge": push.badge}}},
        }
        if push.link:
            message["data"]["link"] = push.link
        if push.collapse_key:
            message["android"]["collapse_key"] = push.collapse_key
            message["android"]["notification"]["tag"] = push.collapse_key
        token = await self._access_token()
        r = await self._http.post(
            self._url, json={"message": message}, headers={"Authorization": f"Bearer {token}"}
        )
        if r.status_code == 401:  # the token was revoked early: a fresh one next time
            self._token = None
            return Result(Outcome.RETRY, 401)
        return result_of(r)
