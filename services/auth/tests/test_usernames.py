"""Lookalike usernames (issue 12, finding 10): NFKC, and unique by the TR39 confusable skeleton;
a lookalike of a taken name is answered exactly like the taken name."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text

from auth.confusables import skeleton
from auth.main import MIGRATIONS
from parley_common.db import create_engine, migrate

from .conftest import PASSWORD, Users

LOOKALIKES = [
    "аlice",  # Cyrillic а
    "alіce",  # Cyrillic і (Byelorussian-Ukrainian i)
    "ａｌｉｃｅ",  # fullwidth
    "ALICE",
    "alice\u0301",  # a combining acute accent
    "ali\u0307ce",  # a combining dot over the i
    "alicé",
]


async def register(client: httpx.AsyncClient, name: str, email: str) -> httpx.Response:
    return await client.post(
        "/auth/register", json={"username": name, "email": email, "password": PASSWORD}
    )


class TestLookalikes:
    @pytest.mark.parametrize("lookalike", LOOKALIKES)
    async def test_a_lookalike_is_refused_like_a_taken_name(
        self, client: httpx.AsyncClient, users: Users, lookalike: str
    ) -> None:
        await users.register("alice")
        taken = await register(client, "alice", "other@example.com")
        r = await register(client, lookalike, "lookalike@example.com")
        assert (r.status_code, r.json()) == (taken.status_code, taken.json())
        assert r.json()["detail"] == "Username already taken"

    async def test_renaming_to_a_lookalike_is_refused_like_a_taken_name(
        self, client: httpx.AsyncClient, users: Users
    ) -> None:
        await users.register("paul")
        _, headers = await users.register_and_login("peter")
        taken = await client.put("/users/me", json={"username": "paul"}, headers=headers)
        r = await client.put("/users/me", json={"username": "раul"}, headers=headers)
        assert (r.status_code, r.json()) == (taken.status_code, taken.json())
        assert r.json()["detail"] == "Username already exists"

    async def test_fullwidth_is_stored_nfkc_normalised(self, users: Users) -> None:
        assert (await users.register("ｂｏｂｂｙ"))["username"] == "bobby"

    async def test_invisible_characters_are_refused(self, client: httpx.AsyncClient) -> None:
        r = await register(client, "carol\ufe0f", "carol@example.com")
        assert r.status_code == 422

    async def test_different_names_in_scripts_with_marks_both_register(self, users: Users) -> None:
        await users.register("कुमार")
        await users.register("कमार")  # differs by a vowel sign, not a lookalike
        await users.register("Иван")
        await users.register("ivan_")


class TestSkeletonMigration:
    async def test_existing_lookalikes_keep_their_names(self, pg_url: str) -> None:
        engine = create_engine(pg_url)
        try:
            await migrate(engine, MIGRATIONS, "0001")
            now = datetime.now(UTC)
            async with engine.begin() as conn:
                for i, name in enumerate(["alice", "аlice"], 1):
                    await conn.execute(
                        text(
                            "INSERT INTO users (id, username, username_key, email, email_key,"
                            " password_hash, created_at, updated_at) VALUES"
                            " (:id, :n, :n, :e, :e, 'x', :t, :t)"
                        ),
                        {"id": i, "n": name, "e": f"{i}@example.com", "t": now},
                    )
            await migrate(engine, MIGRATIONS)
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(text("SELECT id, username_skeleton FROM users ORDER BY id"))
                ).all()
            assert rows == [(1, skeleton("alice")), (2, skeleton("alice") + "#2")]
        finally:
            await engine.dispose()


def test_skeleton_examples() -> None:
    assert len({skeleton(n) for n in ["alice", *LOOKALIKES]}) == 1
    assert skeleton("paul") == skeleton("раul") != skeleton("saul")
    assert skeleton("hello_world") != skeleton("hello-world")
