"""The database connection pool in /metrics: `parley_db_pool_in_use{service}` against
`parley_db_pool_size{service}` (the ParleyDbPoolExhausted alert compares them), read from the
engine's pool whenever Prometheus scrapes."""

from __future__ import annotations

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

POOL_IN_USE = Gauge("parley_db_pool_in_use", "Database connections checked out", ["service"])
POOL_SIZE = Gauge(
    "parley_db_pool_size", "Database connections the pool may open (size + overflow)", ["service"]
)


def watch_pool(service: str, engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool
    checkedout = getattr(pool, "checkedout", None)
    if checkedout is None:  # SQLite's pools (make run) do not count
        return
    POOL_IN_USE.labels(service).set_function(lambda: float(checkedout()))
    limit = float(getattr(pool, "size", lambda: 0)() + max(0, getattr(pool, "_max_overflow", 0)))
    POOL_SIZE.labels(service).set(limit)
