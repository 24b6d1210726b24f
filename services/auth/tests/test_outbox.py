"""Registering and renaming publish through the outbox to a consumer on real RabbitMQ."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from auth.main import create_app
from parley_common.bus import Delivery, create_bus
from parley_common.events import Envelope, UserRegistered, UserUpdated
from parley_common.testing.harness import running
from parley_common.testing.plugin import BusConfig
from parley_common.testing.waiting import wait_for

from .conftest import Users, make_settings


@pytest.fixture
async def rabbit_client(pg_url: str, redis_url: str, amqp: BusConfig) -> AsyncIterator[Any]:
    """The auth app publishing to a test exchange, and what a consumer of it received."""
    received: list[Delivery] = []

    async def handler(delivery: Delivery) -> None:
        received.append(delivery)

    consumer = create_bus(
        amqp.url, exchange=amqp.exchange, queue_prefix=amqp.queue_prefix, queue_type=amqp.queue_type
    )
    await consumer.start()
    sub = await consumer.subscribe("auth-test", ["svc.user.#"], handler, exclusive=True)
    settings = make_settings(amqp, database_url=pg_url, redis_url=redis_url)
    try:
        async with running(create_app(settings)) as http:
            yield http, received
    finally:
        await sub.cancel()
        await consumer.close()


class TestOutbox:
    async def test_user_registered_and_updated_reach_rabbitmq(self, rabbit_client: Any) -> None:
        client, received = rabbit_client
        users = Users(client)
        user = await users.register("Zoë", "zoe@example.com")

        await wait_for(lambda: received, timeout=30, message="user.registered on RabbitMQ")
        delivery = received[0]
        assert delivery.routing_key == "svc.user.registered"
        env = Envelope.model_validate(json.loads(delivery.body))
        assert env.type == "user.registered"
        assert env.producer == "auth"
        assert delivery.message_id == str(env.id)
        data = env.parse(UserRegistered)
        assert (data.user_id, data.username, data.email) == (user["id"], "Zoë", "zoe@example.com")

        tokens = await users.login("zoë")
        r = await client.put(
            "/users/me",
            json={"username": "Zoe_2"},
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )
        assert r.status_code == 200
        await wait_for(lambda: len(received) >= 2, timeout=30, message="user.updated")
        assert received[1].routing_key == "svc.user.updated"
        updated = Envelope.model_validate(json.loads(received[1].body)).parse(UserUpdated)
        assert (updated.user_id, updated.username) == (user["id"], "Zoe_2")

    async def test_a_rejected_registration_publishes_nothing(self, rabbit_client: Any) -> None:
        client, received = rabbit_client
        users = Users(client)
        await users.register("first", "dup@example.com")
        r = await client.post(
            "/auth/register",
            json={"username": "second", "email": "DUP@example.com", "password": "password1"},
        )
        assert r.status_code == 400
        await users.register("third")
        await wait_for(lambda: len(received) >= 2, timeout=30, message="two registrations")
        names = [json.loads(d.body)["data"]["username"] for d in received]
        assert names == ["first", "third"]
