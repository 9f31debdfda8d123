"""The worker loop's CPU per callback, on a real ``serve`` node: a focused storm for A/B comparisons.

``python -m bench.delivery_cpu --triggers 2000 --backup 20`` sends that many triggers (round-robin over
the storm's four sources, each with its own callback path on ``bench/receiver.py``) while one simulated
backup runs, samples the worker-loop process's utime+stime every 50 ms, and reports:

- during the backup: worker CPU per "backup started" message (attach included; Slack and run task only);
- after the backup's end: worker CPU per final result callback, and the wall time from the backup's
  end to the last callback (the storm section's figure, at this size).

``--profile out.txt [--phase started|finals]`` runs ``py-spy record --gil`` (if on PATH) on the worker loop
during the backup or after its end.
Nothing here is asserted on: it prints numbers to compare before and after a change in the same session.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from webhook.simulator import SimulatorConfig, SimulatorServer

from . import payloads, servers
from .receiver import Receiver
from .storm import _epoch, fire, storm_requests, wait_for_finals


class CpuSampler:
    """(time.time(), CPU seconds) of one process every ``every`` seconds, on a thread."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> CpuSampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), servers.cpu_seconds([self.pid])))
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.samples.append((time.time(), servers.cpu_seconds([self.pid])))
        self.split = _user_system(self.pid)
        self.peak_mb = servers.memory_kb(self.pid)[1] / 1024

    def at(self, moment: float) -> float:
        """CPU seconds used by ``moment`` (the last sample at or before it)."""
        before = [cpu for at, cpu in self.samples if at <= moment]
        return before[-1] if before else self.samples[0][1]


def _wait_for_a_final(receiver: Receiver) -> None:
    while not any(a.is_final() for a in receiver.snapshot()[-50:]):
        time.sleep(0.05)


def _spy(worker: int, profile: Path, receiver: Receiver, phase: str) -> subprocess.Popen[bytes]:
    """py-spy on the worker loop (GIL holders only: CPU, not waiting), from now or from the first final."""
    if phase == "finals":
        _wait_for_a_final(receiver)
    return subprocess.Popen(["py-spy", "record", "-p", str(worker), "-r", "200", "-f", "raw", "-o", str(profile),
                             "--threads", "--gil"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(total: int, backup_seconds: float, profile: Path | None, phase: str = "finals",
        timeout: float = 600.0) -> dict[str, float]:
    endpoints = [ep for ep in payloads.STORM_ENDPOINTS if ep.available()]
    work = Path(tempfile.mkdtemp(prefix="delivery-cpu-"))
    sim = SimulatorServer(SimulatorConfig(backup_seconds=backup_seconds)).start()
    receiver = Receiver().start()
    env = servers.node_env(work / "node.db", servers.free_port(), sim.url, receiver.host)
    spy: subprocess.Popen[bytes] | None = None
    try:
        with servers.serve_node(work, "node", env) as node:
            worker = servers.node_processes(node.pid)["worker loop"]
            sampler = CpuSampler(worker).start()
            requests = storm_requests(endpoints, total, receiver, f"cpu{int(time.time())}")
            if profile is not None and phase == "started" and shutil.which("py-spy"):
                spy = _spy(worker, profile, receiver, phase)
            began = time.time()
            answers = fire(node.url, requests)
            if profile is not None and shutil.which("py-spy"):
                spy = _spy(worker, profile, receiver, phase)
            if spy is not None and phase == "started":
                _wait_for_a_final(receiver)
                spy.send_signal(2)
                spy.wait(30)
                spy = None
            wait_for_finals(receiver, total, timeout)
            sampler.stop()
            if spy is not None:
                spy.send_signal(2)
                spy.wait(30)
            arrivals = receiver.snapshot()
            tasks = sim.state.task_views()
    finally:
        receiver.stop()
        sim.stop()
    finals = [a for a in arrivals if a.is_final()]
    started = [a for a in arrivals if not a.is_final()]
    ended = min((e for e in (_epoch(t.get("completionTimestamp")) for t in tasks) if e is not None),
                default=float("nan"))
    last_final = max((a.at for a in finals), default=float("nan"))
    last_started = max((a.at for a in started), default=began)
    cpu_backup = sampler.at(max(last_started, max(t for _, t in answers))) - sampler.at(began)
    cpu_after = sampler.at(last_final) - sampler.at(ended)
    return {
        "triggers": total, "acked": sum(1 for s, _ in answers if 200 <= s < 300), "finals": len(finals),
        "distinct_finals": len({a.path for a in finals}), "started_messages": len(started),
        "ms_per_started_during_backup": 1000 * cpu_backup / max(1, len(started)),
        "ms_per_final_after_end": 1000 * cpu_after / max(1, len(finals)),
        "end_to_last_callback_s": last_final - ended,
        "worker_cpu_s": sampler.samples[-1][1] - sampler.samples[0][1],
        "worker_user_s": sampler.split[0], "worker_system_s": sampler.split[1], "worker_peak_mb": sampler.peak_mb,
    }


def _user_system(pid: int) -> tuple[float, float]:
    """The process's user and system CPU seconds so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triggers", type=int, default=2000)
    parser.add_argument("--backup", type=float, default=20.0, help="simulated backup seconds")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy raw output file")
    parser.add_argument("--phase", choices=("started", "finals"), default="finals",
                        help="profile during the backup (started messages) or after its end (finals)")
    args = parser.parse_args()
    servers.pin_self(servers.LOAD_CPU)
    print(json.dumps(run(args.triggers, args.backup, args.profile, args.phase), indent=1))


if __name__ == "__main__":
    main()
