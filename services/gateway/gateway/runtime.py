"""Everything one gateway replica runs on, built by the runtime's `build` hook
(parley_common.runtime) and reached through `gateway_of(app.state)`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from starlette.datastructures import State

from parley_common import frames as fr
from parley_common.bus import Bus
from parley_common.jwt_verify import JWTVerifier
from parley_common.ratelimit import TokenBucket
from parley_common.runtime import Runtime

from .addresses import ClientAddresses
from .config import Settings
from .cors import OriginPolicy
from .proxy import RestProxy
from .sessions import RevocationAwareVerifier, RevocationFeed, SessionDenylist
from .upstreams import DirectHandlers, Upstreams
from .ws.fanout import Fanout
from .ws.handlers import FrameHandler
from .ws.presence import PresencePublisher
from .ws.reaper import reap_idle
from .ws.registry import Registry
from .ws.sends import ChatSends
from .ws.setup import SocketSetup
from .ws.viewers import Viewers


@dataclass(slots=True)
class Gateway:
    settings: Settings
    bus: Bus
    upstreams: Upstreams
    verifier: JWTVerifier
    origins: OriginPolicy
    registry: Registry
    viewers: Viewers
    fanout: Fanout
    setup: SocketSetup
    sends: ChatSends
    presence: PresencePublisher
    proxy: RestProxy
    handler: FrameHandler = field(init=False)
    #: Set while the replica shuts down: new sockets are refused.
    closing: bool = False

    def __post_init__(self) -> None:
        self.handler = FrameHandler(self)


GatewayRuntime = Runtime[Settings, Gateway]


def gateway_of(state: State) -> Gateway | None:
    """The replica's gateway once its lifespan has started, else None."""
    runtime: GatewayRuntime | None = getattr(state, "runtime", None)
    return runtime.parts if runtime is not None else None


async def build(rt: GatewayRuntime, *, direct: DirectHandlers | None = None) -> Gateway:
    settings, bus, store = rt.settings, rt.bus, rt.store
    upstreams = Upstreams.create(settings, rt.transports, direct)
    rt.add_step("upstreams", stop=upstreams.aclose)
    denylist = SessionDenylist(store, default_ttl_seconds=settings.session_denylist_seconds)
    revocations = RevocationFeed(bus, denylist, gateway_id=settings.gateway_id)
    registry = Registry()
    viewers = Viewers(registry=registry, bus=bus, gateway_id=settings.gateway_id, store=store)
    fanout = Fanout(
        registry=registry,
        viewers=viewers,
        dedupe_size=settings.dedupe_cache_size,
        typing_timeout=settings.typing_timeout,
    )
    verifier = RevocationAwareVerifier(
        settings.jwks_url,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        key_max_age_seconds=settings.jwks_max_age_seconds,
        http=upstreams.auth,
        denylist=denylist,
    )
    rt.verifier = verifier
    gateway = Gateway(
        settings=settings,
        bus=bus,
        upstreams=upstreams,
        verifier=verifier,
        origins=OriginPolicy(settings.cors_origins),
        registry=registry,
        viewers=viewers,
        fanout=fanout,
        setup=SocketSetup(upstreams),
        sends=ChatSends(
            upstreams.chat_calls,
            TokenBucket(
                store, prefix="gw:send", rate=settings.ws_send_rate, burst=settings.ws_send_burst
            ),
        ),
        presence=PresencePublisher(bus, settings.gateway_id, settings.presence_heartbeat_seconds),
        proxy=RestProxy(
            upstreams,
            TokenBucket(
                store, prefix="gw:rest", rate=settings.rest_rate, burst=settings.rest_burst
            ),
            denylist,
            ClientAddresses(settings.trusted_proxies),
        ),
    )
    reaper: list[asyncio.Task[None]] = []

    async def start() -> None:
        await denylist.start()
        await revocations.start()
        # The replica's own queue: events for its users and conversations (bound as sockets
        # come and go) and those for every gateway (`gw.#`); no acks, it dies with us.
        registry.subscription = await bus.subscribe_batches(
            f"gateway.{settings.gateway_id}",
            ["gw.#"],
            fanout.handle_batch,
            exclusive=True,
            auto_ack=True,
            max_batch=500,
            max_attempts=1,
        )
        bus.on_reconnect.append(fanout.on_bus_reconnect)
        viewers.start()
        gateway.presence.start()
        reaper.append(
            asyncio.create_task(reap_idle(registry, settings.idle_timeout), name="ws-reaper")
        )

    async def close_sockets() -> None:
        gateway.closing = True
        for task in reaper:
            task.cancel()
        conns = list(registry.connections())
        for conn in conns:
            conn.close(fr.CLOSE_RESTART, "server restart")
        await asyncio.gather(*(c.wait_closed() for c in conns), return_exceptions=True)

    async def stop() -> None:
        await gateway.presence.stop()
        await viewers.stop()
        fanout.typing.stop()
        if registry.subscription is not None:
            await registry.subscription.cancel()
        await gateway.sends.close()
        await gateway.setup.close()
        await revocations.stop()
        await denylist.stop()

    rt.add_step("edge", start, stop)
    # Stopped first (steps stop in reverse order), in a bounded step of its own.
    rt.add_step("sockets", stop=close_sockets)
    return gateway
