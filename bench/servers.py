"""The servers under test, each a real process pinned to the server core: a ``serve`` node, the bare
Flask ceiling under the same gunicorn settings, and the peer (adnanh/webhook running a script per request).

Also reads what each process of a node uses (``/proc``: VmRSS now, VmHWM the peak since it started).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from . import payloads

ROOT = Path(__file__).resolve().parents[1]
SERVER_CPU = "0"
LOAD_CPU = "1"
PEER_BINARY = "webhook"  # Debian package `webhook` (adnanh/webhook)


def can_pin() -> bool:
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def pinned(cpu: str) -> list[str]:
    return ["taskset", "-c", cpu] if can_pin() else []


def pin_self(cpu: str) -> None:
    """Keep the bench's own threads (simulator, receiver) off the server core."""
    if can_pin() and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(cpu)})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCFBACKUP_")}
    env.update(extra)
    return env


def node_env(database: Path, port: int, sim_url: str, receiver_host: str, **overrides: str) -> dict[str, str]:
    """The settings of a bench node: defaults everywhere except addresses, secrets and allowlists."""
    values = {
        "VCFBACKUP_HOST": "127.0.0.1", "VCFBACKUP_PORT": str(port),
        "VCFBACKUP_DATABASE_URL": f"sqlite:///{database}",
        "VCFBACKUP_SDDC_URL": sim_url, "VCFBACKUP_SDDC_USERNAME": "admin@local",
        "VCFBACKUP_SDDC_PASSWORD": "VMware123!VMware123!",
        "VCFBACKUP_API_TOKENS": f"bench:{payloads.API_TOKEN}",
        "VCFBACKUP_ALERTMANAGER_TOKEN": payloads.ALERTMANAGER_TOKEN,
        "VCFBACKUP_SLACK_SIGNING_SECRET": payloads.SLACK_SECRET,
        "VCFBACKUP_SLACK_RESPONSE_HOSTS": receiver_host,
        "VCFBACKUP_TFC_HMAC_KEY": payloads.TFC_KEY, "VCFBACKUP_TFC_HOSTS": receiver_host,
        "VCFBACKUP_CALLBACK_ALLOWED_HOSTS": receiver_host, "VCFBACKUP_CALLBACK_ALLOW_HTTP": "true",
    }
    values.update(overrides)
    return clean_env(**values)


@dataclass
class Server:
    name: str
    command: list[str]
    env: dict[str, str]
    url: str
    ready_path: str
    log: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, timeout: float = 60.0) -> Server:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([*pinned(SERVER_CPU), *self.command], env=self.env, cwd=ROOT,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start: {self.log.read_text(errors='replace')[-1500:]}")
            try:
                if requests.get(self.url + self.ready_path, timeout=2).status_code < 500:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} was not ready within {timeout} s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def serve_node(work: Path, name: str, env: dict[str, str], *, no_worker: bool = False) -> Server:
    """``serve`` as operators run it; ``no_worker``: its web processes alone (ready once they answer, since
    /readyz waits for a worker loop's heartbeat)."""
    port = int(env["VCFBACKUP_PORT"])
    command, ready = [sys.executable, "-m", "webhook", "serve"], "/readyz"
    if no_worker:
        command, ready = [*command, "--no-worker"], "/healthz"
    return Server(name, command, env, f"http://127.0.0.1:{port}", ready, work / f"{name}.log")


def bare_flask(work: Path, env: dict[str, str]) -> Server:
    port = int(env["VCFBACKUP_PORT"])
    return Server("bare-flask", [sys.executable, "-m", "bench.bare_app"], env, f"http://127.0.0.1:{port}",
                  "/healthz", work / "bare-flask.log")


def durable_floor(work: Path, env: dict[str, str]) -> Server:
    port = int(env["VCFBACKUP_PORT"])
    return Server("durable-floor", [sys.executable, "-m", "bench.floor_app"], env, f"http://127.0.0.1:{port}",
                  "/healthz", work / "durable-floor.log")


def run_task_floor(work: Path, env: dict[str, str]) -> Server:
    port = int(env["VCFBACKUP_PORT"])
    return Server("run-task-floor", [sys.executable, "-m", "bench.run_task_floor"], env, f"http://127.0.0.1:{port}",
                  "/healthz", work / "run-task-floor.log")


def peer_available() -> bool:
    return shutil.which(PEER_BINARY) is not None


def peer(work: Path, name: str = "peer") -> tuple[Server, Path]:
    """adnanh/webhook with one hook that checks the bearer token and runs a one-line script."""
    home = work / name
    home.mkdir(parents=True, exist_ok=True)
    ran = home / "ran.log"
    ran.write_text("")
    script = home / "start-backup.sh"
    script.write_text(f"#!/bin/sh\necho started >> {ran}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    hooks = [{
        "id": "backup", "execute-command": str(script), "command-working-directory": str(home),
        "response-message": "backup requested\n", "http-methods": ["POST"],
        "trigger-rule": {"match": {"type": "value", "value": f"Bearer {payloads.PEER_TOKEN}",
                                   "parameter": {"source": "header", "name": "Authorization"}}},
    }]
    (home / "hooks.json").write_text(json.dumps(hooks, indent=2))
    port = free_port()
    command = [shutil.which(PEER_BINARY) or PEER_BINARY, "-hooks", str(home / "hooks.json"), "-ip", "127.0.0.1",
               "-port", str(port)]
    return Server(name, command, clean_env(), f"http://127.0.0.1:{port}", "/", work / f"{name}.log"), ran


def executions(ran: Path, settle: float = 3.0) -> int:
    """Lines the peer's script wrote, once the count stops moving (its commands run in the background)."""
    last, stable_since = -1, time.monotonic()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        count = ran.read_bytes().count(b"\n") if ran.exists() else 0
        if count != last:
            last, stable_since = count, time.monotonic()
        elif time.monotonic() - stable_since >= settle:
            break
        time.sleep(0.2)
    return max(last, 0)


# ---------------------------------------------------------------------------------------- memory
def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return sorted(found)


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def node_processes(master: int) -> dict[str, int]:
    """Role → pid for a serve node: the gunicorn master, its workers, the worker-loop process."""
    roles = {"gunicorn master": master}
    web = 0
    for pid in children(master):
        if " worker" in command_line(pid) and "webhook" in command_line(pid):
            roles["worker loop"] = pid
        else:
            web += 1
            roles[f"gunicorn worker {web}"] = pid
    return roles


def memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in kB; (0, 0) once the process is gone."""
    values = {"VmRSS": 0, "VmHWM": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = int(rest.split()[0])
    except OSError:
        pass
    return values["VmRSS"], values["VmHWM"]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes, their reaped children included (a peer's scripts)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")
