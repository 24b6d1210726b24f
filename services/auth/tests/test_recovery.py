"""Password reset and address verification through a real SMTP server: links read from the
received emails, single use, expiring, no way to learn whether an address is registered."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import update

from auth.config import Settings
from auth.main import create_app
from auth.models import EmailToken
from auth.runtime import auth_runtime
from parley_common.db import utcnow
from parley_common.testing.smtp import SmtpCollector, smtp_server
from parley_common.testing.waiting import wait_for

from .conftest import PASSWORD, Users, bearer
from .test_sessions import revoked_events


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpCollector, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
async def mailing(settings: Settings, smtp: tuple[SmtpCollector, int]) -> AsyncIterator[FastAPI]:
    with_mail = settings.model_copy(
        update={"smtp_url": f"smtp://127.0.0.1:{smtp[1]}", "web_url": "https://chat.example.com"}
    )
    app = create_app(with_mail)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        yield app


def token_in(collector: SmtpCollector, to: str, param: str, count: int = 1) -> str:
    mails = [m for m in collector.to(to) if f"?{param}=" in collector.text_of(m)]
    assert len(mails) >= count
    link = collector.link_in(mails[count - 1], rf"^https://chat\.example\.com/\?{param}=")
    return parse_qs(urlsplit(link).query)[param][0]


async def test_registration_sends_a_link_that_verifies_the_address(
    mailing: FastAPI, smtp: tuple[SmtpCollector, int]
) -> None:
    collector, _ = smtp
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(mailing), base_url="http://t"
    ) as http:
        users = Users(http)
        await users.register("ana", "ana@example.com")
        await wait_for(lambda: collector.to("ana@example.com"), message="the welcome email")
        (welcome,) = collector.to("ana@example.com")
        assert welcome["Subject"] == "Confirm your email address for Parley"
        tokens = await users.login("ana")
        me = (await http.get("/users/me", headers=bearer(tokens["access_token"]))).json()
        assert me["email_verified"] is False

        token = token_in(collector, "ana@example.com", "verify")
        assert (await http.post("/auth/verify", json={"token": token})).status_code == 200
        me = (await http.get("/users/me", headers=bearer(tokens["access_token"]))).json()
        assert me["email_verified"] is True
        used = await http.post("/auth/verify", json={"token": token})
        assert used.status_code == 400 and used.json()["code"] == "invalid_token"
        r = await http.post("/auth/verify/resend", headers=bearer(tokens["access_token"]))
        assert r.json()["message"] == "Your address is already verified"


async def test_a_reset_link_sets_the_password_once_and_ends_every_session(
    mailing: FastAPI, smtp: tuple[SmtpCollector, int]
) -> None:
    collector, _ = smtp
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(mailing), base_url="http://t"
    ) as http:
        users = Users(http)
        await users.register("ana", "ana@example.com")
        phone, laptop = await users.login("ana"), await users.login("ana")
        for _ in range(2):  # the second link voids the first
            r = await http.post("/auth/password/forgot", json={"email": "ANA@example.com"})
            assert r.status_code == 200
        await wait_for(
            lambda: (
                len(
                    [
                        m
                        for m in collector.to("ana@example.com")
                        if "?reset=" in collector.text_of(m)
                    ]
                )
                == 2
            ),
            message="two reset emails",
        )
        first = token_in(collector, "ana@example.com", "reset", 1)
        second = token_in(collector, "ana@example.com", "reset", 2)
        stale = await http.post(
            "/auth/password/reset", json={"token": first, "new_password": "a new one 1"}
        )
        assert stale.status_code == 400 and stale.json()["detail"] == "Invalid or expired link"

        r = await http.post(
            "/auth/password/reset", json={"token": second, "new_password": "a new one 1"}
        )
        assert r.status_code == 200
        again = await http.post(
            "/auth/password/reset", json={"token": second, "new_password": "x" * 12}
        )
        assert again.status_code == 400
        # Every session ended: refresh refused, and session.revoked for each (sockets close).
        for tokens in (phone, laptop):
            refused = await http.post(
                "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            )
            assert refused.status_code == 401
        assert len(await revoked_events(mailing)) == 2
        old = await http.post("/auth/login", json={"username": "ana", "password": PASSWORD})
        assert old.status_code == 401
        assert (
            await http.post("/auth/login", json={"username": "ana", "password": "a new one 1"})
        ).status_code == 200


async def test_unknown_addresses_answer_the_same_and_links_expire(
    mailing: FastAPI, smtp: tuple[SmtpCollector, int]
) -> None:
    collector, _ = smtp
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(mailing), base_url="http://t"
    ) as http:
        await Users(http).register("ana", "ana@example.com")
        known = await http.post("/auth/password/forgot", json={"email": "ana@example.com"})
        unknown = await http.post("/auth/password/forgot", json={"email": "nobody@example.com"})
        assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
        await wait_for(
            lambda: any("?reset=" in collector.text_of(m) for m in collector.to("ana@example.com")),
            message="ana's reset email",
        )
        assert collector.to("nobody@example.com") == []
        token = token_in(collector, "ana@example.com", "reset")
        async with auth_runtime(mailing.state).sessionmaker() as session, session.begin():
            await session.execute(
                update(EmailToken).values(expires_at=utcnow() - timedelta(seconds=1))
            )
        r = await http.post(
            "/auth/password/reset", json={"token": token, "new_password": "a new one 1"}
        )
        assert r.status_code == 400 and r.json()["code"] == "invalid_token"
        for bad in ({"token": "short", "new_password": "a new one 1"}, {"email": "not-an-address"}):
            path = "/auth/password/reset" if "token" in bad else "/auth/password/forgot"
            assert (await http.post(path, json=bad)).status_code == 422


async def test_emails_per_account_are_capped_and_login_can_require_a_verified_address(
    settings: Settings, smtp: tuple[SmtpCollector, int]
) -> None:
    collector, port = smtp
    strict = settings.model_copy(
        update={
            "smtp_url": f"smtp://127.0.0.1:{port}",
            "account_emails_per_hour": 2,
            "require_verified_email": True,
        }
    )
    app = create_app(strict)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as http,
    ):
        await Users(http).register("ana", "ana@example.com")  # the welcome (not counted)
        r = await http.post("/auth/login", json={"username": "ana", "password": PASSWORD})
        assert r.status_code == 403 and r.json()["code"] == "email_not_verified"
        for _ in range(3):  # two resets, then nothing more this hour (the same answer)
            assert (
                await http.post("/auth/password/forgot", json={"email": "ana@example.com"})
            ).status_code == 200
        await auth_runtime(app.state).parts.mailer.drain()
        assert len(collector.to("ana@example.com")) == 3
