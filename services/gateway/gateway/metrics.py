"""Gateway metrics (names fixed by docs/DEVELOPING.md; dashboards depend on them)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

WS_CONNECTIONS = Gauge("parley_ws_connections", "Open WebSocket connections")
WS_FRAMES_IN = Counter("parley_ws_frames_in_total", "Frames received from clients", ["type"])
WS_FRAMES_OUT = Counter("parley_ws_frames_out_total", "Frames written to clients", ["type"])
DELIVERY_LATENCY = Histogram(
    "parley_delivery_latency_seconds",
    "Event occurred_at to frame written",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_RECEIVED = Counter("parley_gateway_events_received_total", "Events taken from the bus")
EVENTS_DELIVERED = Counter(
    "parley_gateway_events_delivered_total", "Events that produced at least one frame"
)
SLOW_CONSUMER_CLOSES = Counter(
    "parley_ws_slow_consumer_closes_total", "Sockets closed with 4008 (send queue full)"
)
