"""Everything one gateway replica runs on, built in the lifespan and kept on app.state."""

from __future__ import annotations

from dataclasses import dataclass, field

from parley_common.bus import Bus
from parley_common.jwt_verify import JWTVerifier

from .config import Settings
from .cors import OriginPolicy
from .upstreams import Upstreams
from .ws.fanout import Fanout
from .ws.handlers import FrameHandler
from .ws.presence import PresencePublisher
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
    handler: FrameHandler = field(init=False)
    #: Set while the replica shuts down: new sockets are refused.
    closing: bool = False

    def __post_init__(self) -> None:
        self.handler = FrameHandler(self)
