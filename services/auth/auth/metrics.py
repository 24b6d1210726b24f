"""Auth's own metrics (defined once per process; the embedded mode imports every service)."""

from __future__ import annotations

from prometheus_client import Counter

LOGINS = Counter("parley_auth_logins_total", "Login attempts by result", ["result"])
REFRESHES = Counter("parley_auth_refreshes_total", "Refresh-token uses by result", ["result"])
