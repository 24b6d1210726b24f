"""Chat's own Prometheus metrics (defined once: the embedded mode imports every service)."""

from __future__ import annotations

from prometheus_client import Counter

MESSAGES_SENT = Counter("parley_messages_sent_total", "Messages persisted (user and system)")
