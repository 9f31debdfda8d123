"""Section 1's table: every endpoint beside its floor, bare Flask and the peer, and the notes under it."""

from __future__ import annotations

from typing import Any

from .cells import cell as _f
from .targets import BASELINES, FLOOR_SENDER_NICE_10, RUN_TASK_FLOOR, WORKER_AS_EQUAL, floor_of, peer_done_rps
from .throughput import NO_WORKER


def ack_table(ack: dict[str, Any]) -> list[str]:
    bare = {r["conns"]: r["rps"] for r in ack["rows"] if r["server"] == "bare Flask"}
    floor = {r["conns"]: r["rps"] for r in ack["rows"] if r["server"] == "durable floor"}
    peer = {r["conns"]: peer_done_rps(r) for r in ack["rows"] if r["server"] == "peer"}
    lines = ["| server | endpoint | SQLite sync | conns | req/s | p50 ms | p99 ms | errors | server CPU ms/req | "
             "of which worker loop | \"running\" sent / acked in the window | "
             "floor beside it (before → after), req/s | × floor | × bare Flask | × peer |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in ack["rows"]:
        ours = r["server"] not in BASELINES
        compared = r["server"] not in ("bare Flask", "peer")
        base = floor_of(r, floor) if ours or r["server"] == RUN_TASK_FLOOR else None
        ratio_floor = _f(r["rps"] / base, 2) if base else ""
        beside = _f(r["floor_rps"]) if r.get("floor_rps") else ""
        if r.get("floor_before_rps"):
            beside += f" ({_f(r['floor_before_rps'])} → {_f(r['floor_after_rps'])})"
        ratio_bare = _f(r["rps"] / bare[r["conns"]], 2) if compared and r["conns"] in bare else ""
        ratio_peer = _f(r["rps"] / peer[r["conns"]], 2) if compared and r["conns"] in peer else ""
        server = "vcf-backup-webhook serve" if ours else r["server"]
        if ours and r.get("variant"):
            server = f"vcf-backup-webhook serve {r['variant']}"
        if r["server"] == RUN_TASK_FLOOR:
            server = ("run-task floor (durable floor + HMAC-SHA512 + one \"running\" PATCH per trigger from a "
                      "sender on the same core; nothing else)")
            if r.get("variant") == FLOOR_SENDER_NICE_10:
                server = "run-task floor, its sender at nice 10 (as serve's worker loop)"
        if r["server"] == "durable floor":
            server = "durable floor (bare Flask + token, validation, group-committed insert; nothing else)"
        if r["server"] == "peer":
            server = (f"peer (acked {r['acked']:,}, script ran {r['executed']:,}: "
                      f"{_f(peer_done_rps(r))} done/s)")
        kinds = {"status": "non-2xx"}
        errors = _f(r["errors"]) + (f" ({', '.join(kinds.get(k, k) for k in r['error_detail'])})"
                                    if r["errors"] else "")
        lines.append(f"| {server} | {r['endpoint']} | {r.get('sync', '') if compared else ''} | {r['conns']} | "
                     f"{_f(r['rps'])} | {_f(r['p50_ms'], 1)} | {_f(r['p99_ms'], 1)} | {errors} | "
                     f"{_f(r.get('cpu_ms'), 2)} | {_f(r.get('worker_cpu_ms'), 2) if base else ''} | "
                     f"{kept_up(r)} | "
                     f"{beside} | {ratio_floor} | {ratio_bare} | {ratio_peer} |")
    for name in ack.get("unavailable", []):
        lines.append(f"| {name} | not available | | | | | | | | | | | | | |")
    stored = sum(n["stored"] for n in ack.get("durability", []))
    acked = sum(n["acked"] for n in ack.get("durability", []))
    lines += ["", f"Durability: once each node had stopped, its stores held {stored:,} triggers for {acked:,} "
                  f"acknowledged requests (warm-up included; a request still in flight when the load stopped is "
                  f"stored but not counted as acknowledged; so is a trigger whose answer failed after the "
                  f"commit). With synchronous=FULL each commit is fsync'd before its answers are sent (the "
                  f"triggers of concurrent requests share a commit: group commit); the NORMAL rows' commits "
                  f"were not (see 'Durability' in docs/performance.md)."]
    if any(r.get("floor_rps") for r in ack["rows"]):
        lines += ["", "× floor: against the durable floor measured on a fresh store just before and just after that "
                      "endpoint's node, their mean (\"floor beside it\"), since this machine's speed drifts within a "
                      "run; the floor's own rows above were measured after every node, and the peer's gate uses them."]
    if any(r.get("variant") == NO_WORKER for r in ack["rows"]):
        lines += ["", "--no-worker: the same node without its worker loop, so nothing is ever backed up or "
                      "called back; measured only to show what the worker loop, on the web's core, costs that "
                      "endpoint (for the run task: a \"running\" PATCH to HCP Terraform per trigger). Not judged."]
    if any(r.get("variant") == WORKER_AS_EQUAL for r in ack["rows"]):
        lines += ["", f"{WORKER_AS_EQUAL}: the same node with its worker loop at nice 0 instead of 10, so that it "
                      "keeps up with the run task's \"running\" messages while the web path is saturated (at nice "
                      "10 it gets about a tenth of the core). Shown, not judged: the default stays 10, so that the "
                      "web path answers first."]
    if any(r["server"] == RUN_TASK_FLOOR for r in ack["rows"]):
        lines += ["", "Run-task floor: what issue 5's protocol costs at least on this stack, beside two floors of its "
                      "own: the durable floor's insert behind an HMAC-SHA512 check, and a sender process on the same "
                      "core (at nice 0: at serve's nice 10 it fell behind) that sends each stored trigger one "
                      "\"running\" PATCH over a kept-alive connection and marks its batch sent in one commit. No "
                      "logging, idempotency, deadline, backup, attempt record or retry. Not judged; it shows how "
                      "far the node's run task is from what the protocol itself costs."]
    if any(r.get("variant") == FLOOR_SENDER_NICE_10 for r in ack["rows"]):
        lines += ["", "Run-task floor, its sender at nice 10: the same floor, right after it, with its sender at the "
                      "nice value serve gives its worker loop; its \"running\" sent / acked shows whether even the "
                      "protocol's minimum keeps up at that nice while the web path is saturated. Not judged."]
    return lines


def kept_up(r: dict[str, Any]) -> str:
    """The run task's "running" messages the receiver got during the window, against the triggers acknowledged."""
    if "started_sent" not in r:
        return ""
    return f"{_f(r['started_sent'])} / {_f(r['acked'])} ({r['started_sent'] / max(1, r['acked']):.2f})"
