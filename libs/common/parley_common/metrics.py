"""Prometheus metrics every service shares; service-specific ones live beside their code.

Labels never carry user or conversation ids (unbounded cardinality).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUEST_DURATION = Histogram(
    "parley_http_request_duration_seconds",
    "HTTP request duration by route",
    ["service", "method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_PUBLISHED = Counter(
    "parley_events_published_total", "Events published to the bus", ["service", "type"]
)
EVENTS_CONSUMED = Counter(
    "parley_events_consumed_total",
    "Events consumed, by result (processed, duplicate, failed)",
    ["service", "type", "result"],
)
OUTBOX_BACKLOG = Gauge("parley_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_AGE = Gauge(
    "parley_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row", ["service"]
)
