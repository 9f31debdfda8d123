"""Section 8: the same endpoints on PostgreSQL, so an operator sees what the several-replica setup costs.

A throwaway PostgreSQL server from Debian's ``postgresql`` package (``tests/support/postgres.py``, with
fsync on, as in production) on loopback; the nodes are pinned to the server core as in section 1, the
PostgreSQL server itself is not (it is the database host, a separate machine in production). On it:
``serve`` with 1 and with 2 gunicorn web processes (one node each, every endpoint in turn, one
worker loop), and the durable floor (the same app as the SQLite floor: token, validation, one
group-committed insert) on PostgreSQL. The points are shorter than section 1's to bound the run.
"""

from __future__ import annotations

import time
from typing import Any

from . import payloads, servers
from .throughput import Context, drive_endpoints, load_endpoint, row, warm

SECONDS = 5.0  # per point; the SQLite section keeps its 10 s


def available() -> bool:
    from tests.support.postgres import binaries

    return binaries() is not None


def _stored(url: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM triggers")).scalar_one())
    finally:
        engine.dispose()


def _reset(url: str) -> None:
    """An empty schema for the next server (each starts as a fresh install would)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def _node_rows(ctx: Context, url: str, web_workers: int,
               endpoints: tuple[payloads.Endpoint, ...]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    label = f"pg-{web_workers}web"
    port = servers.free_port()
    env = servers.node_env(ctx.work / "unused.db", port, ctx.sim_url, ctx.receiver_host,
                           VCFBACKUP_DATABASE_URL=url, VCFBACKUP_WEB_WORKERS=str(web_workers))
    with servers.serve_node(ctx.work, label, env) as node:
        time.sleep(ctx.settle_idle)
        roles = servers.node_processes(node.pid)
        available = [e for e in endpoints if e.available()]
        rows, acked = drive_endpoints(ctx, node.url, roles, available, label, "pg", shown=label,
                                      web_workers=web_workers)
    return rows, {"node": label, "acked": acked, "stored": _stored(url)}


def _floor_rows(ctx: Context, url: str) -> list[dict[str, Any]]:
    port = servers.free_port()
    env = servers.node_env(ctx.work / "unused.db", port, ctx.sim_url, ctx.receiver_host, VCFBACKUP_DATABASE_URL=url)
    rows = []
    with servers.durable_floor(ctx.work, env) as running:
        warm(ctx, running.url, payloads.GENERIC, "pg-floor")
        for conns in ctx.conns:
            result = load_endpoint(ctx, running.url, payloads.GENERIC, f"pg-floor-c{conns}", conns,
                                   pids=list(servers.node_processes(running.pid).values()))
            ctx.say(f"  {'durable floor on PostgreSQL':<44} c={conns:<3} {result.rps:6.0f} req/s  "
                    f"p99 {result.p99_ms:7.1f} ms")
            rows.append(row("pg-floor", "POST (any path)", result, web_workers=1))
    return rows


def run_postgres(ctx: Context, seconds: float = SECONDS,
                 endpoints: tuple[payloads.Endpoint, ...] = payloads.ENDPOINTS) -> dict[str, Any]:
    from tests.support.postgres import postgres_server

    short = Context(**{**ctx.__dict__, "seconds": min(ctx.seconds, seconds)})
    rows: list[dict[str, Any]] = []
    durability = []
    with postgres_server(durable=True) as url:
        rows.extend(_floor_rows(short, url))
        for web_workers in (1, 2):
            _reset(url)
            found, stored = _node_rows(short, url, web_workers, endpoints)
            rows.extend(found)
            durability.append(stored)
    return {"rows": rows, "durability": durability, "seconds": short.seconds, "server": _server_version()}


def _server_version() -> str:
    from tests.support.postgres import binaries

    found = binaries()
    return f"PostgreSQL {found.parent.name}" if found else "PostgreSQL"
