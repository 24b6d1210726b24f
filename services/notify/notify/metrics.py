"""Notify's Prometheus metrics (defined once per process: the embedded mode imports every service)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

EMAILS_SENT = Counter("parley_emails_sent_total", "Emails handed to the SMTP server")
EMAILS_FAILED = Counter("parley_emails_failed_total", "Failed SMTP attempts")
EMAILS_PENDING = Gauge("parley_emails_pending", "Emails scheduled and not yet sent")
NOTIFICATIONS_CREATED = Counter(
    "parley_notifications_created_total", "In-app notifications created", ["type"]
)
USERS_ONLINE = Gauge("parley_users_online", "Users with at least one open connection")
PUSHES = Counter(
    "parley_pushes_total",
    "Pushes to devices by platform and result (sent, gone, retry, failed)",
    ["platform", "result"],
)
