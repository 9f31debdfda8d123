"""Section 1: durable ack throughput and latency of every endpoint, beside its baselines in the same run.

Each endpoint gets a fresh ``serve`` node between two durable floors of its own; then bare Flask (the
ceiling), the durable floor after every node, the peer, and the run task's own floor (the durable
floor plus the ``running`` PATCH issue 5 owes per trigger, sent from the same core).
"""

from __future__ import annotations

from typing import Any

from . import payloads, servers
from .run_task_floor import SENDER_NICE
from .targets import FLOOR_SENDER_NICE_10, RUN_TASK_FLOOR, WORKER_AS_EQUAL
from .throughput import (
    Context,
    between_floors,
    judged_node,
    load_counting_started,
    load_endpoint,
    node_runs,
    remove_store,
    row,
    warm,
)


def bare_runs(ctx: Context) -> list[dict[str, Any]]:
    """The ceiling (bare Flask) and the durable floor (bare Flask + a group-committed insert)."""
    port = servers.free_port()
    env = servers.node_env(ctx.work / "floor.db", port, ctx.sim_url, ctx.receiver_host)
    rows = []
    for server, label, make in (("bare Flask", "bare Flask (ceiling)", servers.bare_flask),
                                ("durable floor", "durable floor (store only)", servers.durable_floor)):
        with make(ctx.work, env) as running:
            warm(ctx, running.url, payloads.GENERIC, server)
            for conns in ctx.conns:
                result = load_endpoint(ctx, running.url, payloads.GENERIC, f"{server}-c{conns}", conns,
                                       pids=list(servers.node_processes(running.pid).values()))
                ctx.say(f"  {label:<28} c={conns:<3} {result.rps:8.0f} req/s  p99 {result.p99_ms:7.1f} ms")
                extra = {"sync": "FULL (default)"} if server == "durable floor" else {}
                rows.append(row(server, "POST (any path)", result, **extra))
    return rows


def run_task_floor_runs(ctx: Context) -> list[dict[str, Any]]:
    """The run task's floor (``bench.run_task_floor``) between two durable floors: what the protocol of
    issue 5 costs at least on this stack, its sender on the web's core and keeping up; then the same
    floor with its sender at serve's nice 10, which shows whether anything at that nice can keep up."""
    rows, _ = between_floors(ctx, "run-task-floor", lambda: (
        _run_task_floor_rows(ctx, "run-task-floor")
        + _run_task_floor_rows(ctx, "run-task-floor-nice10", nice=worker_nice_default(), variant=FLOOR_SENDER_NICE_10),
        None))
    return rows


def _run_task_floor_rows(ctx: Context, label: str, nice: int = 0, variant: str = "") -> list[dict[str, Any]]:
    database = ctx.work / f"{label}.db"
    env = servers.node_env(database, servers.free_port(), ctx.sim_url, ctx.receiver_host, **{SENDER_NICE: str(nice)})
    named = {"variant": variant} if variant else {}
    rows = []
    with servers.run_task_floor(ctx.work, env) as running:
        processes = [running.pid, *servers.children(running.pid)]
        sender = next((pid for pid in processes if "--sender" in servers.command_line(pid)), None)
        prefix = f"/tp/{label}/"

        def callback_of(i: int) -> str:
            return f"http://{ctx.receiver_host}{prefix}{i}"

        warm(ctx, running.url, payloads.TERRAFORM, label, callback_of=callback_of)
        for conns in ctx.conns:
            result, started = load_counting_started(ctx, running.url, payloads.TERRAFORM, f"{label}-c{conns}", conns,
                                                    callback_of, prefix, pids=processes, worker_pid=sender)
            ctx.say(f"  {RUN_TASK_FLOOR:<27} sender nice {nice:<3} c={conns:<3} {result.rps:6.0f} req/s  "
                    f"p99 {result.p99_ms:7.1f} ms  running sent {started.get('started_sent', 0)} "
                    f"for {started.get('acked', 0)}")
            rows.append(row(RUN_TASK_FLOOR, payloads.TERRAFORM.name, result, sync="FULL (default)", **started,
                            **named))
    remove_store(database)
    return rows


def sync_default() -> str:
    from webhook.settings import Settings

    return str(Settings.model_fields["sqlite_synchronous"].default)


def worker_nice_default() -> int:
    """The nice value ``serve`` gives its worker loop (the run-task floor's second sender takes it)."""
    from webhook.settings import Settings

    return int(Settings.model_fields["worker_nice"].default)


def peer_runs(ctx: Context, settle: float = 3.0) -> list[dict[str, Any]]:
    """The peer under the same load; counts what its script really ran, not only what it acknowledged."""
    server, ran = servers.peer(ctx.work)
    rows = []
    with server:
        warm(ctx, server.url, payloads.GENERIC, "peer", url_path="/hooks/backup")
        for conns in ctx.conns:
            before = servers.executions(ran, settle)
            result = load_endpoint(ctx, server.url, payloads.GENERIC, f"peer-c{conns}", conns,
                                   url_path="/hooks/backup", pids=[server.pid])
            executed = servers.executions(ran, settle) - before
            acked = result.requests - result.errors
            ctx.say(f"  {'peer (adnanh/webhook)':<28} c={conns:<3} {result.rps:8.0f} req/s  "
                    f"p99 {result.p99_ms:7.1f} ms  acked {acked}  ran {executed}")
            # What the peer really did per second: its default mode acknowledges first and runs the
            # command in the background, and under load many of those commands never run.
            done_rps = result.rps * min(1.0, executed / acked) if acked else 0.0
            rows.append(row("peer", "POST /hooks/backup", result, acked=acked, executed=executed, done_rps=done_rps))
    return rows


def run_ack(ctx: Context, normal_too: bool = True, settle: float = 3.0,
            shared_node: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """Section 1 and the memory part of section 4: (ack results, memory results)."""

    rows: list[dict[str, Any]] = []
    memory: dict[str, dict[str, Any]] = {}
    unavailable = [ep.name for ep in payloads.ENDPOINTS if not ep.available()]
    present = [ep for ep in payloads.ENDPOINTS if ep.available()]
    # A fresh node per endpoint, so one endpoint's backlog (callbacks owed) does not slow the next;
    # the smoke mode shares one node to save the start-ups.
    groups = [present] if shared_node else [[ep] for ep in present]
    for group in groups:
        label = "shared" if shared_node else group[0].path.rsplit("/", 1)[1]
        found, memory[label] = node_runs(ctx, label, group) if shared_node else judged_node(ctx, label, group)
        rows.extend({**r, "default": True} for r in found)
    durability = [node["durability"] for node in memory.values()]
    if normal_too:
        found, _ = node_runs(ctx, "sync-normal", [payloads.GENERIC], VCFBACKUP_SQLITE_SYNCHRONOUS="NORMAL")
        rows.extend(found)
        # The run task owes HCP Terraform a "running" PATCH per trigger, sent by the worker loop on the
        # web's core: its web path alone, beside its own floor, shows what that costs the endpoint.
        if payloads.TERRAFORM in present and not shared_node:
            found, alone = judged_node(ctx, "run-task-web-alone", [payloads.TERRAFORM], no_worker=True)
            rows.extend(found)
            durability.append(alone["durability"])
            # At its default nice 10 the worker loop falls behind a saturated run task: the rate at which it keeps up.
            found, equal = judged_node(ctx, "run-task-nice0", [payloads.TERRAFORM], variant=WORKER_AS_EQUAL,
                                       VCFBACKUP_WORKER_NICE="0")
            rows.extend(found)
            durability.append(equal["durability"])
            rows.extend(run_task_floor_runs(ctx))
    rows.extend(bare_runs(ctx))
    if servers.peer_available():
        rows.extend(peer_runs(ctx, settle))
    else:
        unavailable.append("peer (adnanh/webhook: apt-get install webhook)")
    idle: dict[str, float] = {}
    peak: dict[str, float] = {}
    for node in memory.values():
        for role, mb in node["idle_mb"].items():
            idle[role] = max(idle.get(role, 0.0), mb)
        for role, seen in node["load"].items():
            peak[role] = max(peak.get(role, 0.0), seen["vmhwm_mb"], seen["peak_rss_mb"])
    ack = {"rows": rows, "unavailable": unavailable, "durability": durability,
           "sync_default": sync_default()}
    return ack, {"idle_mb": idle, "peak_mb": peak, "per_node": memory}
