"""Writes deploy/grafana/dashboards/*.json: `python deploy/grafana/generate.py`.

The dashboards are generated so that panels share one shape and the metric names stay the
ones docs/DEVELOPING.md fixes (tests/deploy checks both the names and that the JSON files are
what this script writes). Edit here, run it, commit both.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# Run as a script (`python deploy/grafana/generate.py`) and loaded by path in the tests: either
# way the sibling module is found from here.
sys.path.insert(0, str(Path(__file__).parent))
from grafana_panels import DATASOURCE, RATE, alert_list, below, dashboard, panel, row

DASHBOARDS_DIR = Path(__file__).parent / "dashboards"


def overview() -> dict[str, Any]:
    http = "parley_http_request_duration_seconds_count"
    latency = "parley_delivery_latency_seconds_bucket"
    alerts = [
        row("Alerts", 0),
        alert_list("Parley alerts firing", grid=(0, 1, 12, 8)),
        panel(
            "Dead letters by queue",
            [("max by (queue) (parley_dead_letters)", "{{queue}}")],
            grid=(12, 1, 6, 8),
            description="Messages a consumer failed on every time: `parley dlq show QUEUE`.",
            thresholds=[(None, "green"), (1, "red")],
        ),
        panel(
            "Database pool in use",
            [
                (
                    "max by (service) (parley_db_pool_in_use / parley_db_pool_size)",
                    "{{service}}",
                )
            ],
            grid=(18, 1, 6, 8),
            unit="percentunit",
            description="Share of each service's database connections checked out.",
            thresholds=[(None, "green"), (0.9, "red")],
        ),
    ]
    panels = alerts + below(9, [
        row("Traffic", 0),
        panel(
            "WebSocket connections",
            [("sum(parley_ws_connections)", "total")],
            grid=(0, 1, 4, 6),
            kind="stat",
            description="Open WebSocket connections over every gateway replica.",
        ),
        panel(
            "Connections by gateway replica",
            [("sum by (instance) (parley_ws_connections)", "{{instance}}")],
            grid=(4, 1, 10, 6),
            description="A replica far from the others: check the proxy's balancing.",
        ),
        panel(
            "Messages sent /s",
            [(f"sum(rate(parley_messages_sent_total[{RATE}]))", "messages/s")],
            grid=(14, 1, 10, 6),
            unit="ops",
            description="Messages persisted by chat (user and system messages).",
        ),
        panel(
            "WebSocket frames in /s by type",
            [(f"sum by (type) (rate(parley_ws_frames_in_total[{RATE}]))", "{{type}}")],
            grid=(0, 7, 12, 7),
            unit="ops",
        ),
        panel(
            "WebSocket frames out /s by type",
            [(f"sum by (type) (rate(parley_ws_frames_out_total[{RATE}]))", "{{type}}")],
            grid=(12, 7, 12, 7),
            unit="ops",
        ),
        row("Delivery", 14),
        panel(
            "Delivery latency p50 / p99",
            [
                (f"histogram_quantile(0.5, sum by (le) (rate({latency}[{RATE}])))", "p50"),
                (f"histogram_quantile(0.99, sum by (le) (rate({latency}[{RATE}])))", "p99"),
            ],
            grid=(0, 15, 12, 8),
            unit="s",
            description="Event occurred_at (the commit in chat) to the frame written to the socket.",
            thresholds=[(None, "green"), (0.25, "yellow"), (1, "red")],
        ),
        panel(
            "Gateway events received / delivered /s",
            [
                (f"sum(rate(parley_gateway_events_received_total[{RATE}]))", "received"),
                (f"sum(rate(parley_gateway_events_delivered_total[{RATE}]))", "delivered"),
                (
                    f"sum(rate(parley_ws_slow_consumer_closes_total[{RATE}]))",
                    "slow-consumer closes",
                ),
            ],
            grid=(12, 15, 12, 8),
            unit="ops",
            description="Events the gateways took from the broker and the frames they wrote; "
            "slow-consumer closes are sockets dropped because the client could not keep up.",
        ),
        row("Errors", 23),
        panel(
            "HTTP 5xx /s by service",
            [
                (
                    f'sum by (service) (rate({http}{{status=~"5.."}}[{RATE}]))',
                    "{{service}}",
                )
            ],
            grid=(0, 24, 12, 7),
            unit="reqps",
            thresholds=[(None, "green"), (0.01, "red")],
        ),
        panel(
            "HTTP 5xx ratio by service",
            [
                (
                    f'sum by (service) (rate({http}{{status=~"5.."}}[{RATE}]))'
                    f" / sum by (service) (rate({http}[{RATE}]))",
                    "{{service}}",
                )
            ],
            grid=(12, 24, 12, 7),
            unit="percentunit",
            thresholds=[(None, "green"), (0.01, "red")],
        ),
        row("Events and outbox", 31),
        panel(
            "Outbox backlog",
            [("max by (service) (parley_outbox_backlog)", "{{service}}")],
            grid=(0, 32, 8, 8),
            description="Committed events not yet published. Grows while the broker is down.",
        ),
        panel(
            "Outbox oldest event age",
            [("max by (service) (parley_outbox_oldest_age_seconds)", "{{service}}")],
            grid=(8, 32, 8, 8),
            unit="s",
            description="How long the oldest unpublished event has waited: the producer-side lag.",
            thresholds=[(None, "green"), (5, "yellow"), (60, "red")],
        ),
        panel(
            "Events published /s by service",
            [(f"sum by (service) (rate(parley_events_published_total[{RATE}]))", "{{service}}")],
            grid=(16, 32, 8, 8),
            unit="ops",
        ),
        panel(
            "Events consumed /s by consumer and result",
            [
                (
                    f"sum by (service, result) (rate(parley_events_consumed_total[{RATE}]))",
                    "{{service}} {{result}}",
                )
            ],
            grid=(0, 40, 12, 8),
            unit="ops",
            description="result: processed, duplicate (an event id seen before), failed.",
        ),
        panel(
            "Consumer failures /s by type",
            [
                (
                    f'sum by (service, type) (rate(parley_events_consumed_total{{result="failed"}}[{RATE}]))',
                    "{{service}} {{type}}",
                )
            ],
            grid=(12, 40, 12, 8),
            unit="ops",
            description="Failed handlings; after a few attempts an event goes to the dead-letter queue.",
            thresholds=[(None, "green"), (0.01, "red")],
        ),
    ])  # fmt: skip
    return dashboard(
        "parley-overview",
        "Parley / Overview",
        "Alerts firing, connections, messages, delivery latency, errors, outbox and event "
        "consumption.",
        panels,
    )


def http() -> dict[str, Any]:
    bucket = 'parley_http_request_duration_seconds_bucket{service="$service"}'
    count = 'parley_http_request_duration_seconds_count{service="$service"}'
    panels = [
        row("$service", 0, repeat="service"),
        panel(
            "Requests /s by route",
            [(f"sum by (method, route) (rate({count}[{RATE}]))", "{{method}} {{route}}")],
            grid=(0, 1, 8, 8),
            unit="reqps",
        ),
        panel(
            "Duration p50 by route",
            [
                (
                    f"histogram_quantile(0.5, sum by (le, method, route) (rate({bucket}[{RATE}])))",
                    "{{method}} {{route}}",
                )
            ],
            grid=(8, 1, 8, 8),
            unit="s",
        ),
        panel(
            "Duration p99 by route",
            [
                (
                    f"histogram_quantile(0.99, sum by (le, method, route) (rate({bucket}[{RATE}])))",
                    "{{method}} {{route}}",
                )
            ],
            grid=(16, 1, 8, 8),
            unit="s",
        ),
        panel(
            "Responses /s by status",
            [(f"sum by (status) (rate({count}[{RATE}]))", "{{status}}")],
            grid=(0, 9, 12, 6),
            unit="reqps",
        ),
        panel(
            "Errors (5xx) /s by route",
            [
                (
                    f'sum by (method, route) (rate(parley_http_request_duration_seconds_count{{service="$service", status=~"5.."}}[{RATE}]))',
                    "{{method}} {{route}}",
                )
            ],
            grid=(12, 9, 12, 6),
            unit="reqps",
            thresholds=[(None, "green"), (0.01, "red")],
        ),
    ]
    service_variable = {
        "name": "service",
        "label": "Service",
        "type": "query",
        "datasource": DATASOURCE,
        "query": {
            "query": "label_values(parley_http_request_duration_seconds_count, service)",
            "refId": "service",
        },
        "definition": "label_values(parley_http_request_duration_seconds_count, service)",
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }
    return dashboard(
        "parley-http",
        "Parley / HTTP",
        "Per service: request rate and duration p50/p99 by route (one row per service).",
        panels,
        variables=[service_variable],
    )


def notify() -> dict[str, Any]:
    panels = [
        row("Email", 0),
        panel(
            "Emails sent (range)",
            [("sum(increase(parley_emails_sent_total[$__range]))", "sent")],
            grid=(0, 1, 4, 6),
            kind="stat",
        ),
        panel(
            "Emails failed (range)",
            [("sum(increase(parley_emails_failed_total[$__range]))", "failed")],
            grid=(4, 1, 4, 6),
            kind="stat",
            thresholds=[(None, "green"), (1, "red")],
        ),
        panel(
            "Emails pending",
            [("max(parley_emails_pending)", "pending")],
            grid=(8, 1, 4, 6),
            kind="stat",
            description="Scheduled emails in notify's database, not yet sent.",
        ),
        panel(
            "Emails /s",
            [
                (f"sum(rate(parley_emails_sent_total[{RATE}]))", "sent"),
                (f"sum(rate(parley_emails_failed_total[{RATE}]))", "failed"),
            ],
            grid=(12, 1, 12, 6),
            unit="ops",
        ),
        panel(
            "Emails pending over time",
            [("max(parley_emails_pending)", "pending")],
            grid=(0, 7, 24, 6),
            description="Rises while SMTP is down or a batch of missed-message emails is due.",
        ),
        row("Notifications and presence", 13),
        panel(
            "Notifications created /s by type",
            [(f"sum by (type) (rate(parley_notifications_created_total[{RATE}]))", "{{type}}")],
            grid=(0, 14, 12, 8),
            unit="ops",
        ),
        panel(
            "Users online",
            [("max(parley_users_online)", "online")],
            grid=(12, 14, 12, 8),
            description="Users with at least one live connection, as notify's presence sees them.",
        ),
        row("Push", 22),
        panel(
            "Pushes /s by result",
            [(f"sum by (result) (rate(parley_pushes_total[{RATE}]))", "{{result}}")],
            grid=(0, 23, 24, 7),
            unit="ops",
            description="Web Push deliveries; many failed or retry: check the VAPID keys and "
            "the push services' answers in notify's log.",
        ),
    ]
    return dashboard(
        "parley-notify",
        "Parley / Notify",
        "Emails sent, failed and pending; notifications created; users online; pushes.",
        panels,
    )


DASHBOARDS = {"overview.json": overview, "http.json": http, "notify.json": notify}


def render(name: str) -> str:
    return json.dumps(DASHBOARDS[name](), indent=2) + "\n"


def main() -> None:
    DASHBOARDS_DIR.mkdir(exist_ok=True)
    for name in DASHBOARDS:
        (DASHBOARDS_DIR / name).write_text(render(name))
        print(f"wrote {DASHBOARDS_DIR / name}")


if __name__ == "__main__":
    main()
