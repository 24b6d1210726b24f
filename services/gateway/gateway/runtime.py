"""Everything one gateway replica runs on, built in the lifespan and kept on app.state."""

from __future__ import annotations

from dataclasses import dataclass

from parley_common.bus import Bus
from parley_common.jwt_verify import JWTVerifier
from parley_common.ratelimit import TokenBucket

from .config import Settings
from .cors import OriginPolicy
from .upstreams import Upstreams
from .ws.hub import Hub
from .ws.presence import PresencePublisher


@dataclass(slots=True)
class Gateway:
    settings: Settings
    bus: Bus
    hub: Hub
    upstreams: Upstreams
    verifier: JWTVerifier
    origins: OriginPolicy
    send_limiter: TokenBucket
    presence: PresencePublisher
