"""``python -m bench.fleet``: one fan-out trigger over 50 simulated SDDC Managers, beside 1, in one run.

Issue 15's figures, for a real ``serve`` node (gunicorn + worker) with a fleet file:

- trigger → Nth submit: the trigger's ``POST /v1/triggers`` (client clock, before the request) to
  the latest ``creationTimestamp`` of the N simulators' backup tasks (when each POST
  /v1/backups/tasks arrived). All on one host, one clock.
- last end → callback: the latest ``completionTimestamp`` of the N tasks to the arrival of the one
  fan-out callback at the receiver.

The same round runs with 1 instance (a fleet of one: fan-out, children, one submit and poll in line)
and with N; the target is the N figures within 2 × the 1-instance ones (medians). Every simulator runs
in this process, on its own port, with its own tasks; this process (simulators, receiver) is pinned to
the load core and the node to the server core, so the simulators do not take the node's CPU.

After each round, the floor (``bench.fleet_floor``, pinned to the node's core) does only the HTTP of the
N submits (list running backups, POST) from one process with the worker's thread count: the part of
"trigger → last submit" no change to the service can remove. Each round also reads the CPU the
worker-loop process, the web processes and this process (the simulators) used.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from webhook.simulator import SimulatorConfig, SimulatorServer

from . import payloads, servers
from .receiver import Receiver

PASSWORD_ENV = "BENCH_FLEET_SDDC_PASSWORD"
POLL_INTERVAL = 0.25
BACKUP_SECONDS = 1.0
THREADS = 16


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def write_fleet(path: Path, sims: list[SimulatorServer]) -> Path:
    lines = ["instances:"] + [
        f"  - {{name: i{n:03d}, url: '{sim.url}', username: admin@local, password_env: {PASSWORD_ENV}, "
        f"labels: {{bench: fleet}}}}" for n, sim in enumerate(sims)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start_floor(sims: list[SimulatorServer]) -> subprocess.Popen[str]:
    floor = subprocess.Popen([*servers.pinned(servers.SERVER_CPU), sys.executable, "-m", "bench.fleet_floor",
                              str(THREADS), *(sim.url for sim in sims)], cwd=servers.ROOT, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert floor.stdout is not None
    if floor.stdout.readline().strip() != "ready":
        raise RuntimeError("bench.fleet_floor did not start")
    return floor


def floor_round(floor: subprocess.Popen[str], sims: list[SimulatorServer]) -> float:
    """Seconds from the floor's start to the last of its POSTs arriving (as the node's figure is read)."""
    assert floor.stdin is not None and floor.stdout is not None
    seen = {id(sim): {t["id"] for t in sim.state.task_views()} for sim in sims}
    floor.stdin.write("go\n")
    floor.stdin.flush()
    started = json.loads(floor.stdout.readline())["started"]
    tasks = [t for sim in sims for t in sim.state.task_views() if t["id"] not in seen[id(sim)]]
    if len(tasks) != len(sims):
        raise RuntimeError(f"floor: {len(tasks)} backups for {len(sims)} instances")
    time.sleep(BACKUP_SECONDS + 0.3)  # the floor's backups end before the node's next round
    return max(_epoch(t["creationTimestamp"]) for t in tasks) - float(started)


def run_fleet(work: Path, instances: int, rounds: int) -> dict[str, Any]:
    sims = [SimulatorServer(SimulatorConfig(backup_seconds=BACKUP_SECONDS)).start() for _ in range(instances)]
    receiver = Receiver().start()
    fleet = write_fleet(work / f"fleet-{instances}.yaml", sims)
    env = servers.node_env(work / f"fleet-{instances}.db", servers.free_port(), "", receiver.host,
                           VCFBACKUP_SDDC_MANAGERS_FILE=str(fleet), VCFBACKUP_POLL_INTERVAL=f"{POLL_INTERVAL}s",
                           VCFBACKUP_POLL_MAX_INTERVAL="0.5s", VCFBACKUP_INSTANCE_THREADS=str(THREADS),
                           **{PASSWORD_ENV: "VMware123!VMware123!"})
    to_last_submit: list[float] = []
    to_callback: list[float] = []
    floor_submit: list[float] = []
    cpu: dict[str, list[float]] = {"worker loop": [], "web": [], "simulators (bench process)": []}
    floor = start_floor(sims)
    try:
        with servers.serve_node(work, f"fleet-{instances}", env) as node, requests.Session() as session:
            roles = servers.node_processes(node.pid)
            loop = [pid for role, pid in roles.items() if role == "worker loop"]
            web = [pid for role, pid in roles.items() if role != "worker loop"]
            headers = {"Authorization": f"Bearer {payloads.API_TOKEN}"}
            for r in range(rounds):
                path = f"/fleet/{instances}/{r}"
                seen = {id(sim): {t["id"] for t in sim.state.task_views()} for sim in sims}
                before = servers.cpu_seconds(loop), servers.cpu_seconds(web), time.process_time()
                asked = time.time()
                answer = session.post(node.url + "/v1/triggers", headers=headers, timeout=30,
                                      json={"selector": {}, "callbackUrl": receiver.base + path, "reason": path})
                answer.raise_for_status()
                deadline = time.monotonic() + 60 + instances
                while time.monotonic() < deadline and not any(a.path == path for a in receiver.snapshot()):
                    time.sleep(0.005)
                after = servers.cpu_seconds(loop), servers.cpu_seconds(web), time.process_time()
                for key, start, end in zip(cpu, before, after, strict=True):
                    cpu[key].append(end - start)
                [arrival] = [a for a in receiver.snapshot() if a.path == path]
                tasks = [t for sim in sims for t in sim.state.task_views() if t["id"] not in seen[id(sim)]]
                if len(tasks) != instances:
                    raise RuntimeError(f"{len(tasks)} backups for {instances} instances")
                to_last_submit.append(max(_epoch(t["creationTimestamp"]) for t in tasks) - asked)
                to_callback.append(arrival.at - max(_epoch(t["completionTimestamp"]) for t in tasks))
                results = json.loads(arrival.body)["results"]
                if len(results) != instances:
                    raise RuntimeError(f"callback carries {len(results)} results for {instances} instances")
                floor_submit.append(floor_round(floor, sims))
    finally:
        floor.kill()
        floor.wait()
        receiver.stop()
        for sim in sims:
            sim.stop()
    return {"instances": instances, "rounds": rounds,
            "trigger_to_last_submit_ms": _summary(to_last_submit), "last_end_to_callback_ms": _summary(to_callback),
            "floor_to_last_submit_ms": _summary(floor_submit),
            "cpu_ms_per_round": {key: _summary(values) for key, values in cpu.items()}}


def _summary(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"median": round(statistics.median(ms), 1), "max": round(max(ms), 1), "min": round(min(ms), 1)}


def report(one: dict[str, Any], many: dict[str, Any]) -> tuple[dict[str, Any], str]:
    checks = []
    for key, label in (("trigger_to_last_submit_ms", "trigger → last submit"),
                       ("last_end_to_callback_ms", "last backup end → callback")):
        base, fleet = one[key]["median"], many[key]["median"]
        checks.append({"figure": label, "one_ms": base, "fleet_ms": fleet, "ratio": round(fleet / max(base, 1.0), 2),
                       "target": f"{many['instances']} instances within 2 × 1 instance",
                       "met": fleet <= 2 * max(base, 1.0)})
    lines = [f"# Fleet: one fan-out trigger, {many['instances']} instances beside 1 ({many['rounds']} rounds, medians)",
             "", "| figure | 1 instance (ms) | fleet (ms) | ratio | target met |", "|---|---|---|---|---|"]
    lines += [f"| {c['figure']} | {c['one_ms']} | {c['fleet_ms']} | {c['ratio']} | {'yes' if c['met'] else 'NO'} |"
              for c in checks]
    lines += ["", f"Poll interval {POLL_INTERVAL} s, backups of {BACKUP_SECONDS} s on every simulator; "
                  "the callback waits for the last instance's poll to see its end.", ""]
    lines += _floor_lines(one, many)
    floor = {"one_ms": one["floor_to_last_submit_ms"]["median"], "fleet_ms": many["floor_to_last_submit_ms"]["median"]}
    best = checks[0]["one_ms"] + floor["fleet_ms"] - floor["one_ms"]
    floor["best_ratio"] = round(best / max(checks[0]["one_ms"], 1.0), 2)
    return {"one": one, "fleet": many, "targets": checks, "floor": floor}, "\n".join(lines) + "\n"


def _floor_lines(one: dict[str, Any], many: dict[str, Any]) -> list[str]:
    """The same run's floor and CPU: what the figures are made of, and the least they could be here."""
    n = many["instances"]
    base, fleet = one["floor_to_last_submit_ms"]["median"], many["floor_to_last_submit_ms"]["median"]
    node_one = one["trigger_to_last_submit_ms"]["median"]
    lines = ["## Same run: the floor and the CPU", "",
             f"Floor: only the HTTP of the submits (GET running backups + POST, `requests`, {THREADS} threads, "
             "one session per instance, no store), from one process pinned to the node's core: "
             f"{base} ms for 1 instance, {fleet} ms for {n}. The node's 1-instance figure plus the floor's "
             f"growth is {round(node_one + fleet - base, 1)} ms, "
             f"{round((node_one + fleet - base) / max(node_one, 1.0), 2)} × the 1-instance figure: "
             "the least \"trigger → last submit\" could be on this machine.", "",
             "| CPU per round (ms, median) | 1 instance | fleet | fleet per instance |", "|---|---|---|---|"]
    for key in many["cpu_ms_per_round"]:
        a, b = one["cpu_ms_per_round"][key]["median"], many["cpu_ms_per_round"][key]["median"]
        lines.append(f"| {key} | {a} | {b} | {round(b / n, 1)} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="5 instances, 1 round: only proves the bench works")
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=servers.ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    instances, rounds = (5, 1) if args.smoke else (args.instances, args.rounds)
    args.out.mkdir(parents=True, exist_ok=True)
    servers.pin_self(servers.LOAD_CPU)  # the simulators and the receiver stay off the node's core
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as work:
        one = run_fleet(Path(work), 1, rounds)
        many = run_fleet(Path(work), instances, rounds)
    results, markdown = report(one, many)
    (args.out / "fleet.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (args.out / "fleet.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
