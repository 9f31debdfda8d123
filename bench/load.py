"""Load generation: wrk (Debian package ``wrk``) when present, else a bundled Python generator.

Both read the same request pool (a file, one request a line: tab-separated header values, then the
body), send over keep-alive connections on loopback, stop after a fixed time, and report req/s,
p50/p99/max latency and errors. wrk runs pinned to the load core, the servers to the other one.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .servers import LOAD_CPU, pinned

WRK_THREADS = 2
TIMEOUT_S = 10


@dataclass
class Pool:
    """A file of requests for one path, with the header names its columns carry."""

    path: Path
    url_path: str
    header_names: tuple[str, ...]
    count: int
    method: str = "POST"

    @classmethod
    def write(cls, path: Path, url_path: str, header_names: Iterable[str],
              rows: Iterable[tuple[list[str], bytes]]) -> Pool:
        count = 0
        with path.open("wb") as out:
            for values, body in rows:
                if b"\n" in body or b"\t" in body:
                    raise ValueError("pool bodies must be one line without tabs")
                out.write("\t".join(values).encode() + b"\t" + body + b"\n")
                count += 1
        return cls(path, url_path, tuple(header_names), count)

    def requests(self) -> list[tuple[dict[str, str], bytes]]:
        found = []
        for line in self.path.read_bytes().splitlines():
            *values, body = line.split(b"\t")
            found.append((dict(zip(self.header_names, (v.decode() for v in values), strict=True)), body))
        return found


@dataclass
class LoadResult:
    tool: str
    conns: int
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    error_detail: dict[str, int] = field(default_factory=dict)
    reused: int = 0  # requests sent again after the pool ran out (duplicates where the protocol dedupes)
    cpu_ms: float | None = None  # server CPU (all its processes, user + system) per request
    worker_cpu_ms: float | None = None  # the worker loop's part of cpu_ms (attaching, delivering)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


PREFERENCE = {"tool": "auto"}  # --load: auto (wrk when installed), wrk, or python


def tool_name() -> str:
    wanted = PREFERENCE["tool"]
    if wanted == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if wanted == "wrk" and not shutil.which("wrk"):
        raise SystemExit("--load wrk: wrk is not installed (apt-get install wrk)")
    return wanted


def run_load(base_url: str, pool: Pool, conns: int, seconds: float, work: Path) -> LoadResult:
    if tool_name() == "wrk":
        return _run_wrk(base_url, pool, conns, seconds, work)
    return _run_python(base_url, pool, conns, seconds)


_LUA = r"""
local file, path, method, names = %(file)s, %(path)s, %(method)s, {%(names)s}
local counter, threads = 0, {}
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  local nthreads = tonumber(args[1])
  reqs, k, reused = {}, 0, 0
  local lines = {}
  for line in io.lines(file) do table.insert(lines, line) end
  for i0, line in ipairs(lines) do
    local i = i0 - 1
    if i %% nthreads == tid or #lines < nthreads then
      local fields, start = {}, 1
      while true do
        local s = string.find(line, "\t", start, true)
        if not s then table.insert(fields, string.sub(line, start)); break end
        table.insert(fields, string.sub(line, start, s - 1))
        start = s + 1
      end
      local headers = {}
      for j, name in ipairs(names) do headers[name] = fields[j] end
      table.insert(reqs, wrk.format(method, path, headers, fields[#names + 1]))
    end
  end
  lines = nil
end
function request()
  k = k + 1
  if k > #reqs then k, wrapped = 1, true end
  if wrapped then reused = reused + 1 end
  return reqs[k]
end
function done(summary, latency, requests)
  local reused_total = 0
  for _, t in ipairs(threads) do reused_total = reused_total + (t:get("reused") or 0) end
  local e = summary.errors
  io.write(string.format('BENCH_JSON {"requests":%%d,"duration_us":%%d,"connect":%%d,"read":%%d,"write":%%d,' ..
    '"status":%%d,"timeout":%%d,"p50_us":%%d,"p99_us":%%d,"max_us":%%d,"reused":%%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, reused_total))
end
"""


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal for these values


def _run_wrk(base_url: str, pool: Pool, conns: int, seconds: float, work: Path) -> LoadResult:
    script = work / f"{pool.path.stem}.lua"
    script.write_text(_LUA % {"file": _lua_string(str(pool.path)), "path": _lua_string(pool.url_path),
                              "method": _lua_string(pool.method),
                              "names": ", ".join(_lua_string(n) for n in pool.header_names)})
    threads = min(WRK_THREADS, conns)
    command = [*pinned(LOAD_CPU), "wrk", f"-t{threads}", f"-c{conns}", f"-d{max(1, round(seconds))}s",
               f"--timeout={TIMEOUT_S}s", "-s", str(script), base_url + pool.url_path, "--", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result (exit {done.returncode}): {done.stdout[-800:]} {done.stderr[-800:]}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    duration = data["duration_us"] / 1e6
    detail = {k: data[k] for k in ("connect", "read", "write", "status", "timeout") if data[k]}
    return LoadResult("wrk", conns, duration, data["requests"], data["requests"] / duration,
                      data["p50_us"] / 1000, data["p99_us"] / 1000, data["max_us"] / 1000,
                      sum(detail.values()), detail, data["reused"])


def connection(host: str, port: int) -> http.client.HTTPConnection:
    """A keep-alive connection with Nagle off: http.client sends headers and body in two writes,
    and the second would otherwise wait for the server's delayed ACK (40 ms) on every request."""
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT_S)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def _run_python(base_url: str, pool: Pool, conns: int, seconds: float) -> LoadResult:
    """Threads with one keep-alive connection each; bounded by time (and by 1e6 requests)."""
    target = urlsplit(base_url)
    requests = pool.requests()
    latencies: list[list[float]] = [[] for _ in range(conns)]
    errors: dict[str, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop(slot: int) -> None:
        mine = requests[slot::conns] or requests
        conn = connection(target.hostname or "127.0.0.1", target.port or 80)
        k = 0
        while time.monotonic() < deadline and k < 1_000_000:
            headers, body = mine[k % len(mine)]
            k += 1
            started = time.perf_counter()
            try:
                conn.request(pool.method, pool.url_path, body=body or None, headers=headers)
                response = conn.getresponse()
                response.read()
                kind = None if response.status < 400 else "status"
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=TIMEOUT_S)  # lazy: may be down
                kind = "connect"
            latencies[slot].append(time.perf_counter() - started)
            if kind:
                with lock:
                    errors[kind] = errors.get(kind, 0) + 1
        conn.close()

    began = time.monotonic()
    workers = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(conns)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(seconds + TIMEOUT_S + 5)
    elapsed = time.monotonic() - began
    merged = sorted(x for per in latencies for x in per)
    if not merged:
        raise RuntimeError("the Python load generator completed no request")
    sent = len(merged)
    return LoadResult("python", conns, elapsed, sent, sent / elapsed, 1000 * percentile(merged, 50),
                      1000 * percentile(merged, 99), 1000 * merged[-1], sum(errors.values()), errors,
                      max(0, sent - len(requests)))


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[index]
