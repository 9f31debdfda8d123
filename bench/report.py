"""The run's results as Markdown (printed and written to latest.md) and JSON (latest.json)."""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from .cells import cell as _f
from .report_ack import ack_table


def _first_line(command: list[str]) -> str | None:
    if not shutil.which(command[0]):
        return None
    done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else None


def _filesystem(path: Path) -> str:
    best, kind = "", "?"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            _, mount, fstype, *_ = line.split()
            if str(path.resolve()).startswith(mount) and len(mount) > len(best):
                best, kind = mount, fstype
    except OSError:
        pass
    return kind


def machine(work: Path) -> dict[str, Any]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        kb = 0
    return {"cpu": model, "cores": os.cpu_count(), "memory_gib": round(kb / 2**20, 1), "kernel": platform.release(),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "wrk": " ".join((_first_line(["wrk", "--version"]) or "").split()[:2]) or None,
            "peer": _first_line(["webhook", "-version"]),
            "pinned": shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2,
            "store_filesystem": _filesystem(work)}


def storm_table(storm: dict[str, Any], peer: dict[str, Any] | None, large: dict[str, Any] | None = None) -> list[str]:
    p = peer or {}
    dash = "—" if peer else "not installed"
    runs = [storm] + ([large] if large else [])
    head = " | ".join(f"vcf-backup-webhook, {r['triggers']:,}" for r in runs)

    def cells(render: Any) -> str:
        return " | ".join(render(r) for r in runs)

    def peak(r: dict[str, Any]) -> str:
        found = r.get("peak_mb") or {}
        return f"{max(found.values()):.1f} MB ({max(found, key=found.get)})" if found else "n/a"

    return [
        f"| | {head} | peer (adnanh/webhook) |", "|---|" + "---:|" * (len(runs) + 1),
        f"| ways in | {cells(lambda r: ', '.join(r['sources']))} | POST /hooks/backup |",
        f"| triggers sent | {cells(lambda r: _f(r['triggers']))} | {_f(p.get('triggers', dash))} |",
        f"| sent in (16 connections) | {cells(lambda r: _f(r['send_seconds'], 1) + ' s')} | "
        f"{_f(p.get('send_seconds'), 1) + ' s' if peer else dash} |",
        f"| acknowledged (2xx) | {cells(lambda r: _f(r['acked_2xx']))} | {_f(p.get('acked_2xx', dash))} |",
        f"| backups started (POSTs to /v1/backups/tasks; peer: script runs) | "
        f"{cells(lambda r: _f(r['backups_started']))} | {_f(p.get('backups_started', dash))} |",
        f"| results delivered (one final callback per trigger) | {cells(lambda r: _f(r['results_delivered']))} | "
        f"{dash} |",
        f"| lost / duplicated | {cells(lambda r: _f(r['lost']) + ' / ' + _f(r['duplicated']))} | {dash} |",
        "| \"backup started\" messages (run task; Slack only where the ack could not name a running backup) | "
        f"{cells(lambda r: _f(r['started_messages']))} | {dash} |",
        f"| simulated backup length | {cells(lambda r: _f(r['backup_seconds'], 0) + ' s')} | |",
        f"| last trigger → last callback | {cells(lambda r: _f(r['last_trigger_to_last_callback_s'], 1) + ' s')} | "
        f"{dash} |",
        f"| **backup end** (SDDC task terminal) **→ last callback** | "
        f"{cells(lambda r: _f(r['task_end_to_last_callback_s'], 1) + ' s')} | {dash} |",
        f"| of which: backup end → the node's poll saw it (polls every {_f(storm.get('poll_interval_s'), 2)} s) | "
        f"{cells(lambda r: _f(r.get('task_end_to_end_seen_s'), 2) + ' s')} | |",
        f"| of which: seen → last callback | {cells(lambda r: _f(r.get('end_seen_to_last_callback_s'), 1) + ' s')} | |",
        f"| peak RSS of the node's largest process | {cells(peak)} | |",
    ]


def reaction_table(r: dict[str, Any]) -> list[str]:
    return [
        f"{r['samples']} triggers one after another ({r['backups_started']} backups), poll interval "
        f"{r['poll_interval_s']} s, backups lasting {r['backup_seconds']} s.", "",
        "| from → to | median | p99 |", "|---|---:|---:|",
        f"| trigger accepted → POST /v1/backups/tasks | {_f(r['submit_median_ms'])} ms | {_f(r['submit_p99_ms'])} ms |",
        f"| SDDC task terminal → callback leaves | {_f(r['callback_median_ms'])} ms | {_f(r['callback_p99_ms'])} ms |",
    ]


def memory_table(memory: dict[str, Any], store: dict[str, Any] | None) -> list[str]:
    lines = ["| process | idle RSS MB | peak RSS under load MB |", "|---|---:|---:|"]
    for role in sorted(memory.get("peak_mb", {})):
        lines.append(f"| {role} | {_f(memory['idle_mb'].get(role), 1)} | {_f(memory['peak_mb'][role], 1)} |")
    if store:
        removed = store["removed"]
        lines += ["", f"Store (SQLite file) with {store['history']:,} historic triggers (plus their deliveries and "
                      f"backups): **{store['before']['file_mb']:.1f} MB**. Pruning all of them "
                      f"({removed['triggers']:,} triggers, {removed['deliveries']:,} deliveries, "
                      f"{removed['backups']:,} backups) took {store['prune_seconds']:.1f} s and left "
                      f"{store['after']['live_mb']:.1f} MB of live pages in a file that stays "
                      f"{store['after']['file_mb']:.1f} MB (SQLite reuses freed pages; VACUUM shrinks it to "
                      f"{store['after_vacuum']['file_mb']:.1f} MB)."]
    return lines


def growth_table(growth: dict[str, Any]) -> list[str]:
    lines = ["| historic triggers | worker cycle median ms | cycle p99 ms | first cycle (with prune pass) ms | "
             "ack req/s | ack p99 ms |", "|---:|---:|---:|---:|---:|---:|"]
    for r in growth["sizes"]:
        lines.append(f"| {r['history']:,} | {_f(r['cycle_median_ms'], 1)} | {_f(r['cycle_p99_ms'], 1)} | "
                     f"{_f(r['first_cycle_ms'], 1)} | {_f(r['ack_rps'])} | {_f(r['ack_p99_ms'], 1)} |")
    return lines


def isolation_table(iso: dict[str, Any]) -> list[str]:
    clients, callback = iso["slow_clients"], iso["slow_callback"]
    lines = [f"Two closed-loop clients per endpoint for {clients['seconds']:g} s, on a quiet node and while "
             f"{clients['tricklers']} connections trickle request headers (a byte every 0.5 s).", "",
             "| endpoint | p50 quiet | p99 quiet | p50 trickled | p99 trickled | failed (quiet / trickled) |",
             "|---|---:|---:|---:|---:|---:|"]
    for kind, label in (("healthz", "GET /healthz"), ("trigger", "POST /v1/triggers")):
        q, t = clients["quiet"][kind], clients["trickled"][kind]
        lines.append(f"| {label} | {_f(q['p50_ms'], 1)} ms | {_f(q['p99_ms'], 1)} ms | {_f(t['p50_ms'], 1)} ms | "
                     f"{_f(t['p99_ms'], 1)} ms | {q['failed']} / {t['failed']} |")
    lines += ["", f"{callback['samples']} triggers one at a time, each opening its own backup: time from sending the "
                  f"trigger to its POST /v1/backups/tasks, quiet and while an earlier backup's callback endpoint "
                  f"sleeps {callback['callback_sleeps_s']:g} s before answering.", "",
              "| | median | p99 |", "|---|---:|---:|",
              f"| quiet | {_f(callback['quiet']['median_ms'], 1)} ms | {_f(callback['quiet']['p99_ms'], 1)} ms |",
              f"| callback endpoint asleep | {_f(callback['slow_callback']['median_ms'], 1)} ms | "
              f"{_f(callback['slow_callback']['p99_ms'], 1)} ms |"]
    return lines


def costs_table(costs: dict[str, Any]) -> list[str]:
    from .costs import markdown as costs_markdown

    return [f"In-process, one thread, through the real WSGI app ({costs['requests']:,} requests per endpoint; "
            f"each cost alone over {costs['calls']:,} calls); CPU time, so a busy machine changes little.", "",
            *costs_markdown(costs)]


def postgres_table(pg: dict[str, Any]) -> list[str]:
    if "unavailable" in pg:
        return [f"Not measured: {pg['unavailable']}."]
    floor = {r["conns"]: r["rps"] for r in pg["rows"] if r["server"] == "pg-floor"}
    lines = [f"{pg['server']} on loopback, fsync on, {pg['seconds']:g} s per point; one `serve` node per row group "
             f"(default settings but the web process count, one worker loop).", "",
             "| server | web processes | endpoint | conns | req/s | p50 ms | p99 ms | errors | server CPU ms/req | "
             "× PostgreSQL floor |", "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in pg["rows"]:
        is_floor = r["server"] == "pg-floor"
        server = "durable floor on PostgreSQL" if is_floor else "vcf-backup-webhook serve"
        ratio = "" if is_floor or r["conns"] not in floor else _f(r["rps"] / floor[r["conns"]], 2)
        lines.append(f"| {server} | {r['web_workers']} | {r['endpoint']} | {r['conns']} | {_f(r['rps'])} | "
                     f"{_f(r['p50_ms'], 1)} | {_f(r['p99_ms'], 1)} | {_f(r['errors'])} | {_f(r.get('cpu_ms'), 2)} | "
                     f"{ratio} |")
    stored = sum(n["stored"] for n in pg["durability"])
    acked = sum(n["acked"] for n in pg["durability"])
    lines += ["", f"Durability: the PostgreSQL nodes' database held {stored:,} triggers for {acked:,} acknowledged "
                  f"requests once each node had stopped."]
    return lines


def ui_table(ui: dict[str, Any]) -> list[str]:
    lines = [f"{ui['history']:,} triggers in the store; {ui['conns']} connections per path, one path after another "
             "on one `serve` node.", "", "| path | req/s | p50 ms | p99 ms | max ms | errors |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in ui["rows"]:
        lines.append(f"| `GET {r['path']}` | {_f(r['rps'])} | {_f(r['p50_ms'], 1)} | {_f(r['p99_ms'], 1)} | "
                     f"{_f(r['max_ms'], 1)} | {r['errors']} |")
    return lines


def targets_table(checks: list[dict[str, Any]]) -> list[str]:
    lines = ["| target | measured | result |", "|---|---|---|"]
    for c in checks:
        verdict = {True: "pass", False: "**FAIL**", None: "not checked"}[c["passed"]]
        lines.append(f"| {c['target']} | {c['measured']} | {verdict} |")
    return lines


def markdown(results: dict[str, Any], checks: list[dict[str, Any]]) -> str:
    m, run = results["machine"], results["run"]
    pin = "servers pinned to CPU 0, load generator and bench to CPU 1 (taskset)" if m["pinned"] else "no CPU pinning"
    out = [f"# vcf-backup-webhook benchmark ({run['mode']}, {run['started']})", "",
           f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB RAM, Linux {m['kernel']}, "
           f"Python {m['python']}, SQLite {m['sqlite']} (store on {m['store_filesystem']}). "
           f"Load: {run['load_tool']}{' (' + m['wrk'] + ')' if run['load_tool'] == 'wrk' and m['wrk'] else ''}, "
           f"{run['seconds']:g} s per point after a {run['warmup']:g} s warm-up; {pin}. Peer: "
           f"{m['peer'] or 'not installed'}. Nodes run `vcf-backup-webhook serve` with default settings "
           f"({_gunicorn_shape()}, SQLite synchronous=FULL, log level INFO, worker loop at nice 10) "
           f"unless a row says otherwise. "
           f"Whole run: {run['elapsed_s']:.0f} s.", ""]
    sections = [("1. Durable ack throughput and latency", "ack", lambda v: ack_table(v)),
                ("2. Storm coalescing", "storm", lambda v: storm_table(v, results.get("peer_storm"),
                                                                       results.get("storm_large"))),
                ("3. Reaction time", "reaction", reaction_table),
                ("4. Memory and store size", "memory", lambda v: memory_table(v, (results.get("growth") or {})
                                                                              .get("store"))),
                ("5. Cost growth with history", "growth", growth_table),
                ("6. Isolation: slow clients and slow callback endpoints", "isolation", isolation_table),
                ("7. Where the CPU of one acknowledgement goes", "costs", costs_table),
                ("8. PostgreSQL: one and two web processes", "postgres", postgres_table),

                ("9. Status page", "ui", ui_table)]
    for title, key, render in sections:
        if results.get(key) is not None:
            out += [f"## {title}", "", *render(results[key]), ""]
    out += ["## Targets", "", *targets_table(checks), ""]
    return "\n".join(out)


def _gunicorn_shape() -> str:
    from webhook.settings import Settings

    fields = Settings.model_fields
    workers, threads = fields["web_workers"].default, fields["web_threads"].default
    return f"{workers} gunicorn worker{'s' if workers != 1 else ''} × {threads} threads"
