"""Section 1 (durable ack throughput and latency) and section 4a (memory of a serving node).

Every endpoint gets a fresh ``serve`` node (its own store, default settings), a short warm-up, then
one run per connection count. The bare-Flask ceiling and the peer get the same load in the same run.
While a node is loaded, a sampler reads each of its processes' RSS; the peak (VmHWM) is read at the end.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from . import payloads, servers
from .load import LoadResult, Pool, run_load
from .payloads import Endpoint

Say = Callable[[str], None]


@dataclass
class Context:
    """What every section shares: where to write, how long to load, the simulator and the receiver."""

    work: Path
    seconds: float
    warmup: float
    conns: tuple[int, ...]
    sim_url: str
    receiver_host: str
    say: Say
    # "Started" messages the receiver got under a path prefix: whether a worker keeps up with its triggers.
    started_under: Callable[[str], int] | None = None
    pool_rate: int = 5000  # requests per second a pool must cover before it repeats itself
    settle_idle: float = 1.0  # seconds a fresh node idles before its idle memory is read

    def pool(self, endpoint: Endpoint, tag: str, seconds: float, callback_of: Any = None,
             url_path: str | None = None) -> Pool:
        count = max(1000, int(self.pool_rate * seconds)) if endpoint.unique else 1
        return Pool.write(self.work / f"pool-{tag}.txt", url_path or endpoint.path, endpoint.header_names,
                          endpoint.rows(count, tag, callback_of))


@dataclass
class MemorySampler:
    """Samples VmRSS of a node's processes every ``every`` seconds until stopped."""

    roles: dict[str, int]
    every: float = 0.25
    peak_rss: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> MemorySampler:
        def loop() -> None:
            while not self._stop.is_set():
                self.sample()
                self._stop.wait(self.every)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def sample(self) -> None:
        for role, pid in self.roles.items():
            rss, _ = servers.memory_kb(pid)
            self.peak_rss[role] = max(self.peak_rss.get(role, 0), rss)

    def stop(self) -> dict[str, dict[str, float]]:
        """Per role: peak sampled RSS and VmHWM (the kernel's own peak), in MB."""
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        return {role: {"peak_rss_mb": self.peak_rss.get(role, 0) / 1024,
                       "vmhwm_mb": servers.memory_kb(pid)[1] / 1024} for role, pid in self.roles.items()}


def idle_memory(roles: dict[str, int]) -> dict[str, float]:
    return {role: servers.memory_kb(pid)[0] / 1024 for role, pid in roles.items()}


def row(server: str, endpoint: str, result: LoadResult, **extra: Any) -> dict[str, Any]:
    return {"server": server, "endpoint": endpoint, **result.as_dict(), **extra}


def drive_endpoints(ctx: Context, base_url: str, roles: dict[str, int], endpoints: Sequence[Endpoint], label: str,
                    tag: str, *, shown: str = "", **row_fields: Any) -> tuple[list[dict[str, Any]], int]:
    """Each endpoint of one node warmed, then loaded at every connection count: its rows and the 2xx count.

    ``tag`` keeps this section's callback paths apart at the receiver; ``shown`` follows the endpoint's name
    in the progress lines.
    """
    rows: list[dict[str, Any]] = []
    acked = 0
    for endpoint in endpoints:
        name = endpoint.path.rsplit("/", 1)[1]
        prefix = f"/{tag}/{label}/{name}/"
        callback_of = (lambda i, p=prefix: f"http://{ctx.receiver_host}{p}{i}") if endpoint.unique else None
        warmed = warm(ctx, base_url, endpoint, f"{label}-{name}", callback_of=callback_of)
        acked += warmed.requests - warmed.errors if warmed else 0
        for conns in ctx.conns:
            result, started = load_counting_started(
                ctx, base_url, endpoint, f"{label}-{name}-c{conns}", conns, callback_of, prefix,
                pids=list(roles.values()), worker_pid=roles.get("worker loop"))
            acked += result.requests - result.errors
            ctx.say(f"  {(endpoint.name + ' ' + shown).strip():<44} c={conns:<3} {result.rps:6.0f} req/s  "
                    f"p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:7.1f} ms  errors {result.errors}")
            rows.append(row(label, endpoint.name, result, **started, **row_fields))
    return rows, acked


def load_counting_started(ctx: Context, base_url: str, endpoint: Endpoint, tag: str, conns: int,
                          callback_of: Any, prefix: str, **measure: Any) -> tuple[LoadResult, dict[str, int]]:
    """``load_endpoint``, plus (for an endpoint owing a "started" message per trigger, the run task) how many
    of those the receiver got during the window: fewer than the triggers acknowledged means a backlog grew."""
    # Only where something sends them: a node with its worker loop, or the run task's floor with its sender.
    count = ctx.started_under if endpoint is payloads.TERRAFORM and measure.get("worker_pid") else None
    before = count(prefix) if count else 0
    result = load_endpoint(ctx, base_url, endpoint, tag, conns, callback_of, **measure)
    if count is None:
        return result, {}
    return result, {"started_sent": count(prefix) - before, "acked": result.requests - result.errors}


def load_endpoint(ctx: Context, base_url: str, endpoint: Endpoint, tag: str, conns: int,
                  callback_of: Any = None, url_path: str | None = None, pids: list[int] | None = None,
                  worker_pid: int | None = None) -> LoadResult:
    """One timed run; with ``pids``, also the server CPU it cost per request (``result.cpu_ms``), and with
    ``worker_pid`` the worker loop's part of it (``result.worker_cpu_ms``)."""
    pool = ctx.pool(endpoint, tag, ctx.seconds, callback_of, url_path)
    before = servers.cpu_seconds(pids or [])
    worker_before = servers.cpu_seconds([worker_pid] if worker_pid else [])
    result = run_load(base_url, pool, conns, ctx.seconds, ctx.work)
    if pids:
        result.cpu_ms = 1000 * (servers.cpu_seconds(pids) - before) / max(1, result.requests)
    if worker_pid:
        result.worker_cpu_ms = 1000 * (servers.cpu_seconds([worker_pid]) - worker_before) / max(1, result.requests)
    pool.path.unlink(missing_ok=True)
    return result


def warm(ctx: Context, base_url: str, endpoint: Endpoint, tag: str, url_path: str | None = None,
         callback_of: Any = None) -> LoadResult | None:
    if ctx.warmup <= 0:
        return None
    pool = ctx.pool(endpoint, f"{tag}-warm", ctx.warmup, callback_of, url_path)
    result = run_load(base_url, pool, min(ctx.conns), ctx.warmup, ctx.work)
    pool.path.unlink(missing_ok=True)
    return result


def stored_triggers(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT count(*) FROM triggers").fetchone()[0])


NO_WORKER = "--no-worker (web path alone)"


def node_runs(
    ctx: Context, label: str, endpoints: list[Endpoint], *, no_worker: bool = False, variant: str = "", **env: str,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One fresh node, its endpoints one after another at every connection count; rows plus its memory.

    ``no_worker``: the web processes alone (``serve --no-worker``), to show what the worker loop on the
    same core costs an endpoint; not a setup anyone runs (nothing would ever be backed up).
    ``variant``: how the report names a node whose settings (``env``) differ from the defaults.
    """
    port = servers.free_port()
    database = ctx.work / f"{label}.db"
    node_env = servers.node_env(database, port, ctx.sim_url, ctx.receiver_host, **env)
    named = NO_WORKER if no_worker else variant
    shown = {"variant": named} if named else {}
    with servers.serve_node(ctx.work, label, node_env, no_worker=no_worker) as node:
        time.sleep(ctx.settle_idle)
        roles = servers.node_processes(node.pid)
        idle = idle_memory(roles)
        sampler = MemorySampler(roles).start()
        rows, acked = drive_endpoints(ctx, node.url, roles, endpoints, label, "tp",
                                      shown=label if env or no_worker else "",
                                      sync=env.get("VCFBACKUP_SQLITE_SYNCHRONOUS", "FULL (default)"), **shown)
        memory = {"idle_mb": idle, "load": sampler.stop()}
    # Every acknowledged request must have left a committed trigger (read once the node is gone).
    memory["durability"] = {"node": label, "acked": acked, "stored": stored_triggers(database)}
    remove_store(database)
    return rows, memory


def remove_store(database: Path) -> None:
    """A node's SQLite store and its companion files, once the node has stopped."""
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


def floor_beside(ctx: Context, label: str) -> dict[int, float]:
    """The durable floor's req/s at each connection count, on a fresh store, just before or after a node's runs.

    This machine's speed drifts within a run (the same code measured 1,527 req/s in a run's first
    minute and 1,818 eight minutes later, with weaker durability only as the difference), so each
    endpoint is judged against the floor of its own minutes rather than one measured minutes away.
    """
    port = servers.free_port()
    database = ctx.work / f"floor-{label}.db"
    env = servers.node_env(database, port, ctx.sim_url, ctx.receiver_host)
    found: dict[int, float] = {}
    with servers.durable_floor(ctx.work, env) as running:
        warm(ctx, running.url, payloads.GENERIC, f"floor-{label}")
        for conns in ctx.conns:
            found[conns] = load_endpoint(ctx, running.url, payloads.GENERIC, f"floor-{label}-c{conns}", conns).rps
    ctx.say(f"  durable floor beside {label}: " + ", ".join(f"c={c} {rps:.0f} req/s" for c, rps in found.items()))
    remove_store(database)
    return found


Measured = TypeVar("Measured")


def between_floors(ctx: Context, label: str, measure: Callable[[], tuple[list[dict[str, Any]], Measured]],
                   ) -> tuple[list[dict[str, Any]], Measured]:
    """``measure`` (rows, plus whatever else it returns) between two floors of its own; each row carries
    the floor it is judged against."""
    before = floor_beside(ctx, label)
    found, other = measure()
    after = floor_beside(ctx, f"{label}-after")
    return [{**r, **bracket(before, after, r["conns"])} for r in found], other


def judged_node(ctx: Context, label: str, endpoints: list[Endpoint], *, no_worker: bool = False, variant: str = "",
                **env: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``node_runs`` between two floors of its own."""
    return between_floors(ctx, label, lambda: node_runs(ctx, label, endpoints, no_worker=no_worker, variant=variant,
                                                        **env))


def bracket(before: dict[int, float], after: dict[int, float], conns: int) -> dict[str, float]:
    """A row's floor: the mean of the floors measured just before and just after its node (the drift
    within those minutes goes either way, and one side alone moved a ratio by up to 0.07)."""
    if conns not in before or conns not in after:
        return {}
    return {"floor_rps": (before[conns] + after[conns]) / 2, "floor_before_rps": before[conns],
            "floor_after_rps": after[conns]}
