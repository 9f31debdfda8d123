"""bench/fleet.py runs end to end and reports both figures beside the 1-instance ones (read by people,
never asserted as timings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_fleet_bench_reports_fan_out_figures_beside_one_instance(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCFBACKUP_")}
    done = subprocess.run([sys.executable, "-m", "bench.fleet", "--smoke", "--out", str(tmp_path)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "fleet.json").read_text())
    assert results["one"]["instances"] == 1 and results["fleet"]["instances"] == 5
    for side in ("one", "fleet"):
        for figure in ("trigger_to_last_submit_ms", "last_end_to_callback_ms"):
            assert results[side][figure]["median"] > 0
    assert [c["figure"] for c in results["targets"]] == ["trigger → last submit", "last backup end → callback"]
    assert "| trigger → last submit |" in (tmp_path / "fleet.md").read_text()
