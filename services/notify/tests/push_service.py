"""A local HTTP server that plays the push services, checking what the real ones check.

- Web Push (`/wp/{name}`): the VAPID JWT (RFC 8292: ES256 with the key in `k`, `aud` the
  origin, `exp` within 24 h, a `sub`), then decrypts the RFC 8291 payload with the
  subscription's private key, as the browser would.
- FCM (`/token`, `/v1/projects/{project}/messages:send`): the OAuth JWT grant signed with the
  service account's key (RS256, `iss`, `aud`, `scope`), then the bearer it issued.
- APNs (`/3/device/{token}`, a second server speaking HTTP/2 only, as Apple's does): the
  provider JWT (ES256 with the team's key, `kid`, `iss`, `iat` under an hour old) and
  `apns-topic`.
- Tokens in `gone` answer 410 (Web Push, APNs Unregistered) or 404 UNREGISTERED (FCM);
  `busy[name] = n` answers the next n requests with 429 (Retry-After: 0).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import http_ece
import hypercorn.asyncio
import hypercorn.config
import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from parley.stack import free_port

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """A browser's push subscription: its keys stay here, the server decrypts with them."""

    name: str
    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self) -> dict[str, Any]:
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)},
        }


@dataclass
class Received:
    platform: str
    name: str  # the browser's name or the FCM token
    payload: dict[str, Any]
    headers: dict[str, str]


class PushService:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.received: list[Received] = []
        self.refused: list[str] = []  # why requests were refused (a test expects none)
        self.gone: set[str] = set()
        self.busy: dict[str, int] = {}
        self.attempts: dict[str, int] = {}
        self.browsers: dict[str, Browser] = {}
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.issued: set[str] = set()
        self.apns_port = free_port()
        self.apns_url = f"http://127.0.0.1:{self.apns_port}"
        self.apns_key = ec.generate_private_key(ec.SECP256R1())
        self.apns_key_id, self.apns_team_id, self.apns_topic = (
            "KEY1234567",
            "TEAM123456",
            "app.parley.ios",
        )
        self._apns_stop = asyncio.Event()
        self._apns_task: asyncio.Task[None] | None = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    # --- what a test hands to notify ---------------------------------------------------------

    def browser(self, name: str) -> Browser:
        self.browsers[name] = Browser(name, f"{self.url}/wp/{name}")
        return self.browsers[name]

    def service_account(self) -> dict[str, str]:
        pem = self.rsa.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": "parley-test",
            "client_email": "push@parley-test.iam.gserviceaccount.com",
            "private_key": pem,
            "token_uri": f"{self.url}/token",
        }

    def apns_key_pem(self) -> str:
        return self.apns_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def of(self, name: str) -> list[Received]:
        return [r for r in self.received if r.name == name]

    # --- the server --------------------------------------------------------------------------

    def _refuse(self, status: int, why: str) -> Response:
        self.refused.append(why)
        return JSONResponse({"error": why}, status_code=status)

    def _throttled(self, name: str) -> Response | None:
        self.attempts[name] = self.attempts.get(name, 0) + 1
        if self.busy.get(name, 0) > 0:
            self.busy[name] -= 1
            return JSONResponse(
                {"error": "slow down"}, status_code=429, headers={"Retry-After": "0"}
            )
        return None

    async def webpush(self, request: Request) -> Response:
        name = request.path_params["name"]
        if (throttled := self._throttled(name)) is not None:
            return throttled
        if name in self.gone:
            return Response(status_code=410)
        scheme, _, params = request.headers.get("authorization", "").partition(" ")
        parts = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
        if scheme != "vapid" or "t" not in parts or "k" not in parts:
            return self._refuse(401, "no VAPID authorization")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(parts["k"]))
        try:
            claims = jwt.decode(parts["t"], public, algorithms=["ES256"], audience=self.url)
        except jwt.PyJWTError as exc:
            return self._refuse(403, f"VAPID JWT: {exc}")
        if not claims.get("sub") or claims["exp"] > time.time() + 24 * 3600:
            return self._refuse(403, "VAPID claims")
        if request.headers.get("content-encoding") != "aes128gcm" or "ttl" not in request.headers:
            return self._refuse(400, "headers")
        browser = self.browsers[name]
        plain = http_ece.decrypt(
            await request.body(),
            private_key=browser.key,
            auth_secret=browser.auth,
            version="aes128gcm",
        )
        self.received.append(Received("webpush", name, json.loads(plain), dict(request.headers)))
        return Response(status_code=201)

    async def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self._refuse(400, "grant_type")
        try:
            claims = jwt.decode(
                str(form.get("assertion")),
                self.rsa.public_key(),
                algorithms=["RS256"],
                audience=f"{self.url}/token",
            )
        except jwt.PyJWTError as exc:
            return self._refuse(401, f"assertion: {exc}")
        if claims.get("scope") != FCM_SCOPE or not claims.get("iss"):
            return self._refuse(401, "assertion claims")
        access = secrets.token_urlsafe(24)
        self.issued.add(access)
        return JSONResponse({"access_token": access, "expires_in": 3600, "token_type": "Bearer"})

    async def fcm(self, request: Request) -> Response:
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or bearer not in self.issued:
            return self._refuse(401, "FCM bearer")
        if request.path_params["project"] != "parley-test":
            return self._refuse(404, "project")
        message = (await request.json())["message"]
        name = message["token"]
        if (throttled := self._throttled(name)) is not None:
            return throttled
        if name in self.gone:
            return JSONResponse(
                {"error": {"status": "NOT_FOUND", "details": [{"errorCode": "UNREGISTERED"}]}},
                status_code=404,
            )
        self.received.append(Received("fcm", name, message, dict(request.headers)))
        return JSONResponse({"name": f"projects/parley-test/messages/{len(self.received)}"})

    async def apns(self, request: Request) -> Response:
        if request.scope.get("http_version") != "2":
            return self._refuse(505, "APNs needs HTTP/2")
        name = request.path_params["token"]
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, self.apns_key.public_key(), algorithms=["ES256"])
        except jwt.PyJWTError as exc:
            return self._refuse(403, f"APNs JWT: {exc}")
        if (
            scheme != "bearer"
            or header.get("kid") != self.apns_key_id
            or claims.get("iss") != self.apns_team_id
            or not time.time() - 3600 < claims["iat"] <= time.time() + 5
        ):
            return self._refuse(403, "APNs JWT claims")
        if request.headers.get("apns-topic") != self.apns_topic:
            return self._refuse(400, "apns-topic")
        if (throttled := self._throttled(name)) is not None:
            return throttled
        if name in self.gone:
            return JSONResponse({"reason": "Unregistered"}, status_code=410)
        self.received.append(Received("apns", name, await request.json(), dict(request.headers)))
        return Response(status_code=200)

    async def __aenter__(self) -> PushService:
        apple_config = hypercorn.config.Config()
        apple_config.bind = [f"127.0.0.1:{self.apns_port}"]
        apple_config.loglevel = "WARNING"
        apple = Starlette(routes=[Route("/3/device/{token}", self.apns, methods=["POST"])])
        self._apns_task = asyncio.create_task(
            hypercorn.asyncio.serve(apple, apple_config, shutdown_trigger=self._apns_stop.wait)  # type: ignore[arg-type]
        )
        deadline = time.monotonic() + 10
        while True:  # listening once a connection is accepted
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.apns_port)
                writer.close()
                break
            except OSError:
                if self._apns_task.done() or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.02)
        app = Starlette(
            routes=[
                Route("/wp/{name}", self.webpush, methods=["POST"]),
                Route("/token", self.token, methods=["POST"]),
                Route("/v1/projects/{project}/messages:send", self.fcm, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        await self._task
        self._apns_stop.set()
        if self._apns_task is not None:
            await self._apns_task
