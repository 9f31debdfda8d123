"""Run the whole benchmark: ``.venv/bin/python -m bench`` (about 18 minutes) or ``--smoke`` (about half a minute).

Writes ``<out>/latest.md`` and ``<out>/latest.json`` (default ``bench/results/``), prints the Markdown,
and exits 1 if a target is missed (the smoke mode only if a section failed to run: its one-second
points are too short to judge speed). Needs, from Debian: ``wrk`` (else a slower Python load
generator is used and the report says so), ``webhook`` (the peer; else its rows are "not available")
and ``taskset`` (util-linux; else nothing is pinned). It installs nothing itself.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import costs, history, isolation, payloads, postgres, reaction, report, servers, status_page, storm, targets
from .ack import run_ack
from .load import PREFERENCE, tool_name
from .receiver import Receiver
from .throughput import Context

SECTIONS = ("ack", "storm", "reaction", "growth", "isolation", "costs", "postgres", "ui")


@dataclass(frozen=True)
class Profile:
    seconds: float
    warmup: float
    conns: tuple[int, ...]
    storm_total: int
    storm_backup: float
    storm_timeout: float
    storm_large_total: int  # the large storm (issue 17: 10,000), run beside the small one
    storm_large_backup: float
    reaction_samples: int
    growth_sizes: tuple[int, ...]
    growth_cycles: int
    growth_seconds: float
    settle: float  # seconds the peer's script log must stay still before its lines are counted
    settle_idle: float  # seconds a fresh node idles before its idle memory is read
    shared_node: bool  # all endpoints on one node (smoke: fewer start-ups) instead of one node each
    isolation_seconds: float = 5.0  # per latency phase (quiet, trickled)
    isolation_samples: int = 10  # triggers per submit-delay phase (quiet, slow callback)
    cost_requests: int = costs.N_REQUESTS  # section 6: requests per endpoint, calls per named cost
    cost_calls: int = costs.N_CALLS
    postgres_all: bool = True  # every endpoint on PostgreSQL (smoke: the generic one, to bound its time)
    ui_history: int = 100_000  # triggers in the store while the status page is loaded
    ui_conns: int = 4  # a few people and a wall screen looking at once


FULL = Profile(seconds=10, warmup=2, conns=(16, 64), storm_total=1000, storm_backup=10, storm_timeout=120,
               storm_large_total=10_000, storm_large_backup=60,
               reaction_samples=100, growth_sizes=(1_000, 10_000, 100_000), growth_cycles=30, growth_seconds=5,
               settle=3.0, settle_idle=1.0, shared_node=False, ui_history=100_000)
SMOKE = Profile(seconds=1, warmup=0, conns=(16,), storm_total=40, storm_backup=2, storm_timeout=30,
                storm_large_total=80, storm_large_backup=3,
                reaction_samples=3, growth_sizes=(100, 1_000), growth_cycles=3, growth_seconds=1, settle=0.5,
                settle_idle=0.2, shared_node=True, isolation_seconds=1.0, isolation_samples=3, cost_requests=200,
                cost_calls=200, postgres_all=False, ui_history=1_000)


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def needs() -> None:
    if not shutil.which("wrk"):
        say("note: wrk not found (apt-get install wrk): using the bundled Python load generator, which is slower")
    if not servers.peer_available():
        say("note: the peer is not installed (apt-get install webhook): its rows will say 'not available'")
    if not servers.can_pin():
        say("note: taskset or a second core missing: servers and load generator are not pinned")


def run_postgres(ctx: Context, profile: Profile) -> dict[str, Any]:
    """Section 8, or why it could not run (no PostgreSQL server binaries: a note, not a failure)."""
    if not postgres.available():
        return {"unavailable": "PostgreSQL server binaries not installed (apt-get install postgresql)"}
    return postgres.run_postgres(ctx, endpoints=payloads.ENDPOINTS if profile.postgres_all else (payloads.GENERIC,))


def run(profile: Profile, mode: str, only: tuple[str, ...], out: Path, keep_work: bool) -> tuple[dict[str, Any], list]:
    # The nodes' doorbell directories (one per store, in TMPDIR) go in a scratch directory removed at
    # the end: each run left some twenty of them in /tmp. Short, for the Unix sockets' 108-byte paths.
    scratch = tempfile.mkdtemp(prefix="vcfb-bench-")
    saved_tmpdir = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = scratch
    try:
        return _run(profile, mode, only, out, keep_work)
    finally:
        if saved_tmpdir is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_tmpdir
        shutil.rmtree(scratch, ignore_errors=True)


def _run(profile: Profile, mode: str, only: tuple[str, ...], out: Path, keep_work: bool) -> tuple[dict[str, Any], list]:
    servers.pin_self(servers.LOAD_CPU)
    out.mkdir(parents=True, exist_ok=True)
    work = out / f"work-{int(time.time())}"  # on the same disk as the repo: fsync must mean something
    work.mkdir()
    began = time.monotonic()
    results: dict[str, Any] = {"errors": {}, "machine": report.machine(work), "run": {
        "mode": mode, "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "load_tool": tool_name(),
        "seconds": profile.seconds, "warmup": profile.warmup, "conns": list(profile.conns)}}
    receiver = Receiver().start()
    from webhook.simulator import SimulatorConfig, SimulatorServer

    sim = SimulatorServer(SimulatorConfig(backup_seconds=3600)).start()
    ctx = Context(work=work, seconds=profile.seconds, warmup=profile.warmup, conns=profile.conns, sim_url=sim.url,
                  receiver_host=receiver.host, say=say, settle_idle=profile.settle_idle,
                  started_under=receiver.started_under)
    steps = {
        "ack": lambda: results.update(zip(("ack", "memory"), run_ack(
            ctx, settle=profile.settle, shared_node=profile.shared_node), strict=True)),
        "storm": lambda: results.update(
            storm=storm.run_storm(ctx, profile.storm_total, profile.storm_backup, profile.storm_timeout),
            storm_large=storm.run_storm(ctx, profile.storm_large_total, profile.storm_large_backup,
                                        profile.storm_large_backup + 5 * profile.storm_timeout),
            peer_storm=(storm.run_peer_storm(ctx, profile.storm_total, profile.settle)
                        if servers.peer_available() else None)),
        "reaction": lambda: results.update(reaction=reaction.run_reaction(ctx, profile.reaction_samples)),
        "growth": lambda: results.update(growth=history.run_growth(
            ctx, profile.growth_sizes, profile.growth_cycles, profile.growth_seconds)),
        "isolation": lambda: results.update(isolation=isolation.run_isolation(
            ctx, profile.isolation_seconds, profile.isolation_samples)),
        "costs": lambda: results.update(costs=costs.run_costs(profile.cost_requests, profile.cost_calls)),
        "postgres": lambda: results.update(postgres=run_postgres(ctx, profile)),
        "ui": lambda: results.update(ui=status_page.run_status_page(
            ctx, profile.ui_history, profile.ui_conns, profile.seconds)),
    }
    try:
        for name in SECTIONS:
            if name in only:
                say(f"[{name}]")
                started = time.monotonic()
                try:
                    steps[name]()
                except Exception as exc:  # report what ran; a crashed section is a failed target
                    traceback.print_exc()
                    results["errors"][name] = f"{type(exc).__name__}: {exc}"[:300]
                results["run"].setdefault("section_s", {})[name] = round(time.monotonic() - started, 1)
    finally:
        sim.stop()
        receiver.stop()
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)
    results["run"]["elapsed_s"] = time.monotonic() - began
    checks = targets.evaluate(results)
    results["targets"] = checks
    return results, checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a short run that only proves the bench works")
    parser.add_argument("--seconds", type=float, help="seconds of load per point (default 10; smoke 1)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"sections to run (default {','.join(SECTIONS)})")
    parser.add_argument("--out", type=Path, default=servers.ROOT / "bench" / "results", help="where to write")
    parser.add_argument("--load", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator (default: wrk when installed, else the bundled Python one)")
    parser.add_argument("--keep-work", action="store_true", help="keep stores and server logs for inspection")
    args = parser.parse_args(argv)
    profile = SMOKE if args.smoke else FULL
    if args.seconds:
        profile = Profile(**{**profile.__dict__, "seconds": args.seconds})
    only = tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    PREFERENCE["tool"] = args.load
    needs()
    results, checks = run(profile, "smoke" if args.smoke else "full", only, args.out, args.keep_work)
    text = report.markdown(results, checks)
    (args.out / "latest.md").write_text(text + "\n")
    (args.out / "latest.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(text)
    missed = targets.failed(checks)
    if args.smoke:
        return 1 if results["errors"] else 0
    if missed:
        say(f"{len(missed)} target(s) missed: " + "; ".join(c["target"] for c in missed))
    return 1 if missed else 0
