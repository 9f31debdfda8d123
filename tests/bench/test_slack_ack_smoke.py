"""The ack benchmark still runs and reports numbers (its timings are read by people, not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_slack_ack_benchmark_produces_latency_numbers():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "slack_ack.py"), "--count", "3", "--warmup", "1",
                           "--json"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout)
    assert rows[0]["case"].startswith("baseline")
    assert len(rows) == 5
    for row in rows:
        assert row["n"] == 3
        assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]
