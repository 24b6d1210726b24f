"""Send throughput with and without retention's cleanup running (issue 18).

chat runs under uvicorn (bench/chat_http.py's setup) on a fresh PostgreSQL database whose
outbox and inbox (processed_events) are filled with BENCH_RETENTION_ROWS old rows each, as a
service that ran for months before retention existed would have them. Then POST /messages is
driven at full speed in 2 * BENCH_RETENTION_PAIRS + 1 phases of BENCH_SECONDS, without and
with cleanup in turn (without, with, without, ..., without):

- without cleanup: a second chat replica runs beside the one taking the sends, with the
  retention ages set to a year (its round at start finds nothing to delete);
- with cleanup: the second replica has the default ages (its retention loop runs at once, as
  at every start) and deletes the old rows in paced batches of PARLEY_RETENTION_BATCH_SIZE
  with SKIP LOCKED while the first replica takes the sends.

Each phase has a replica of its own, measured from SETTLE seconds after it answers. Each
cleanup phase is compared with the mean of the two phases around it, and the ratio is the mean
of those: this machine's speed changes over minutes (a timeit loop: 744 ns to 1.5 us within
an hour), which three phases in a row could not tell apart from the cleanup's cost.

Before the first phase, a warm-up (bench/chat_http.py's `warm_up`: sends, then ANALYZE) gives
the database messages and statistics. Without it, the sends slowed from phase to phase
whatever the second replica did (control runs with nothing to delete gave 0.69-0.73): chat's
prepared statements kept plans costed on the empty tables, and this machine's PostgreSQL has
autovacuum off, so nothing replanned them.

The cleanup must last every cleanup phase to count: `cleanup_covered_phase` says whether old
rows were still left at the end of each (make BENCH_RETENTION_ROWS larger otherwise). Writes
bench/results/retention.json.

Run: `python -m bench.retention` (full size, on a quiet machine), or small:
`BENCH_RETENTION_ROWS=20000 BENCH_SECONDS=3 python -m bench.retention`.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.chat_http import (
    ROOT,
    USERS,
    chat_env,
    free_port,
    make_groups,
    progress,
    register_users,
    serve_jwks,
    spawn_chat,
    stop,
    wait_ready,
    warm_up,
)
from bench.http_load import CONCURRENCY, Conn, run_throughput
from parley_common.db import create_engine, migrate
from parley_common.testing.databases import create_database, drop_database
from parley_common.testing.plugin import AMQP_URL, PG_URL
from parley_common.testing.tokens import TokenFactory

RESULTS = ROOT / "bench" / "results" / "retention.json"
ROWS = int(os.environ.get("BENCH_RETENTION_ROWS", "2000000"))
SETTLE = float(os.environ.get("BENCH_SETTLE_SECONDS", "5"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
PAIRS = int(os.environ.get("BENCH_RETENTION_PAIRS", "3"))
# A payload the size of a message.created event's.
PAYLOAD = "x" * 600

FILL = {
    "outbox": """
        INSERT INTO outbox (event_id, event_type, routing_key, payload, created_at,
                            available_at, attempts, sent_at)
        SELECT gen_random_uuid(), 'message.created', 'chat.message.created', :payload,
               now() - interval '40 days', now() - interval '40 days', 1,
               now() - interval '40 days' + g * interval '1 millisecond'
        FROM generate_series(1, :rows) AS g
    """,
    "processed_events": """
        INSERT INTO processed_events (event_id, processed_at)
        SELECT gen_random_uuid(), now() - interval '40 days' + g * interval '1 millisecond'
        FROM generate_series(1, :rows) AS g
    """,
}
OLD = {
    "outbox": "SELECT count(*) FROM outbox WHERE sent_at < now() - interval '30 days'",
    "processed_events": (
        "SELECT count(*) FROM processed_events WHERE processed_at < now() - interval '30 days'"
    ),
}


async def fill(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for table, sql in FILL.items():
            await conn.execute(text(sql), {"payload": PAYLOAD, "rows": ROWS})
            progress(f"{table}: {ROWS} old rows")
    async with engine.connect() as conn:
        # Fresh statistics, as autovacuum would have them on a table that grew over months.
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE outbox, processed_events"))


async def old_rows(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {table: (await conn.execute(text(sql))).scalar_one() for table, sql in OLD.items()}


async def second_replica(env: dict[str, str], port: int, log: Any) -> subprocess.Popen[bytes]:
    """A second chat replica, answering and past its start (SETTLE seconds: its second worker,
    bus and JWKS), so its start-up is not counted in a phase."""
    replica = spawn_chat(env, port, log)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
        await wait_ready(c)
    await asyncio.sleep(SETTLE)
    return replica


async def main() -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    db_url = await create_database(PG_URL, prefix="bench_retention")
    exchange, prefix = f"parley.bench.{run}", f"bench.{run}."
    tokens = TokenFactory()
    jwks_server, jwks_port = serve_jwks(tokens)
    port = free_port()
    serving: subprocess.Popen[bytes] | None = None
    replica: subprocess.Popen[bytes] | None = None  # this phase's second replica
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    log = (RESULTS.parent / "retention.server.log").open("wb")
    engine = create_engine(db_url)
    try:
        await migrate(engine, ROOT / "services" / "chat" / "chat" / "migrations")
        env = chat_env(db_url, exchange, prefix, jwks_port)
        serving = spawn_chat(env | {"PARLEY_RETENTION_INTERVAL_SECONDS": "3600"}, port, log)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            await wait_ready(client)
            await register_users(AMQP_URL, exchange)
            headers = {
                u: {"Authorization": f"Bearer {tokens.token(u, f'bench{u}', ttl=7200)}"}
                for u in range(1, USERS + 1)
            }
            groups = await make_groups(client, headers)
        await fill(engine)
        conns = [Conn("127.0.0.1", port) for _ in range(CONCURRENCY)]
        try:
            progress("warm-up, ANALYZE")
            await warm_up(engine, conns, headers, groups)
            keeping = {"PARLEY_OUTBOX_RETENTION_DAYS": "365", "PARLEY_INBOX_RETENTION_DAYS": "365"}
            phases: list[dict[str, Any]] = []
            # Without, with, without, ... with, without: each cleanup phase between two without.
            for i in range(2 * PAIRS + 1):
                cleanup = i % 2 == 1
                replica = await second_replica(env if cleanup else env | keeping, free_port(), log)
                before = await old_rows(engine)
                name = "with cleanup" if cleanup else "without cleanup"
                progress(f"phase {i + 1}: {name} ({SECONDS:.0f} s); old rows {before}")
                sends = await run_throughput(conns, headers, groups, SECONDS)
                after = await old_rows(engine)
                progress(f"phase {i + 1}: {sends}; old rows left {after}")
                phases.append(
                    sends
                    | {
                        "cleanup": cleanup,
                        "old_rows_before": before,
                        "old_rows_after": after,
                        "rows_deleted_per_second": round(
                            (sum(before.values()) - sum(after.values())) / sends["seconds"], 1
                        ),
                    }
                )
                stop(replica)
                replica = None
        finally:
            for conn in conns:
                await conn.close()
        rate = [p["messages_per_second"] for p in phases]
        # Each cleanup phase against the mean of the two around it, so that a machine getting
        # faster or slower over the minutes does not count for or against the cleanup.
        pair_ratios = [
            round(rate[i] / ((rate[i - 1] + rate[i + 1]) / 2), 3) for i in range(1, len(rate), 2)
        ]
        with_cleanup = [p for p in phases if p["cleanup"]]
        result = {
            "benchmark": "retention",
            "when": datetime.now(UTC).isoformat(),
            "machine_cpus": os.cpu_count(),
            "old_rows_per_table": ROWS,
            "seconds_per_phase": SECONDS,
            "concurrency": CONCURRENCY,
            "phases": phases,
            "pair_ratios": pair_ratios,
            "throughput_ratio": round(statistics.mean(pair_ratios), 3),
            "rows_deleted_per_second": round(
                statistics.mean(p["rows_deleted_per_second"] for p in with_cleanup), 1
            ),
            "cleanup_covered_phase": all(sum(p["old_rows_after"].values()) for p in with_cleanup),
        }
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        return result
    finally:
        stop(replica)
        stop(serving)
        jwks_server.shutdown()
        log.close()
        await engine.dispose()
        await drop_database(PG_URL, db_url)


if __name__ == "__main__":
    figures = asyncio.run(main())
    rates = " -> ".join(
        f"{p['messages_per_second']}{' (cleanup)' if p['cleanup'] else ''}"
        for p in figures["phases"]
    )
    print(
        f"sends (msg/s): {rates}; ratio {figures['throughput_ratio']} "
        f"(per cleanup phase {figures['pair_ratios']}); {figures['rows_deleted_per_second']} "
        f"rows/s deleted; cleanup covered every phase: {figures['cleanup_covered_phase']}"
    )
    print(f"results in {RESULTS.relative_to(ROOT)}")
