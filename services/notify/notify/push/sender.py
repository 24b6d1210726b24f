"""The push consumer: `push.requested` events on notify's own queue `notify.push`, sent to each
of the user's devices unless they have an open socket by then.

A slow or failing push service only slows this queue: notify's inbox (notifications, emails,
read cursors) never waits for it. A 429 or 5xx is retried with backoff (Retry-After when the
service gives one) up to `push_max_attempts`; 404 and 410 remove the device.
"""

from __future__ import annotations

import asyncio

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.consumer import EventHandler
from parley_common.events import Envelope, PushRequested, svc_key

from ..config import Settings
from ..metrics import PUSHES
from ..models import Device
from ..notifications import repository as notification_repository
from ..presence.store import PresenceStore
from . import devices
from .apns import ApnsProvider
from .providers import FcmProvider, Outcome, Provider, Push, Result, WebPushProvider

log = structlog.get_logger(__name__)

QUEUE = "notify.push"
BINDINGS = [svc_key(PushRequested.EVENT_TYPE)]


class PushSender:
    def __init__(self, *, settings: Settings, presence: PresenceStore) -> None:
        self._settings = settings
        self._presence = presence
        self._http = httpx.AsyncClient(timeout=settings.push_timeout_seconds)
        self.providers: dict[str, Provider] = {}
        self.vapid_public_key: str | None = None
        if settings.vapid_private_key:
            webpush = WebPushProvider(
                private_key=settings.vapid_private_key,
                subject=settings.vapid_subject,
                ttl=settings.push_ttl_seconds,
                http=self._http,
            )
            self.providers["webpush"] = webpush
            self.vapid_public_key = webpush.public_key
        if settings.fcm_service_account_file:
            self.providers["fcm"] = FcmProvider.from_file(
                settings.fcm_service_account_file, endpoint=settings.fcm_endpoint, http=self._http
            )
        self._apns: ApnsProvider | None = None
        if settings.apns_key_file:
            self._apns = ApnsProvider.from_settings(settings)
            self.providers["apns"] = self._apns

    @property
    def platforms(self) -> frozenset[str]:
        return frozenset(self.providers)

    async def close(self) -> None:
        await self._http.aclose()
        if self._apns is not None:
            await self._apns.close()

    def handlers(self) -> dict[str, EventHandler]:
        return {PushRequested.EVENT_TYPE: self.push_requested}

    async def push_requested(self, session: AsyncSession, env: Envelope) -> None:
        e = env.parse(PushRequested)
        if await self._presence.online_among([e.user_id]):
            return  # an open socket shows it live
        targets = [
            d for d in await devices.of_user(session, e.user_id) if d.platform in self.providers
        ]
        if not targets:
            return
        unread = await notification_repository.count_unread_by_type(session, e.user_id)
        push = Push(
            title=e.title,
            body=e.body,
            badge=sum(unread.values()),
            collapse_key=e.collapse_key,
            link=e.link,
            data=e.data,
        )
        for device in targets:
            result = await self._send(device, push)
            PUSHES.labels(device.platform, result.outcome.value).inc()
            if result.outcome is Outcome.GONE:
                await devices.delete_gone(session, device.id)
                log.info("push.device_gone", device_id=device.id, status=result.status)
            elif result.outcome is not Outcome.SENT:
                log.warning(
                    "push.failed",
                    device_id=device.id,
                    status=result.status,
                    outcome=result.outcome.value,
                )

    async def _send(self, device: Device, push: Push) -> Result:
        settings = self._settings
        provider = self.providers[device.platform]
        result = Result(Outcome.FAILED)
        for attempt in range(settings.push_max_attempts):
            try:
                result = await provider.send(device, push)
            except httpx.HTTPError as exc:
                log.warning("push.unreachable", platform=device.platform, error=str(exc))
                result = Result(Outcome.RETRY)
            if result.outcome is not Outcome.RETRY or attempt + 1 == settings.push_max_attempts:
                return result
            wait = settings.push_retry_base_seconds * 2**attempt
            await asyncio.sleep(min(result.retry_after or wait, 60.0))
        return result
