"""The benchmark still runs end to end and reports a number for everything it measures.

Timings are read by people (and judged by the full run's targets), never asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCFBACKUP_")}
    done = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not list(out.glob("work-*")), "the run leaves no stores or logs behind"
    return json.loads((out / "latest.json").read_text()), (out / "latest.md").read_text()


def positive(value: object) -> bool:
    return isinstance(value, (int, float)) and value > 0


BASELINES = ("bare Flask", "durable floor", "peer")


def test_every_endpoint_the_ceiling_the_floor_and_the_peer_get_numbers(smoke):
    results, markdown = smoke
    rows = results["ack"]["rows"]
    measured = {r["endpoint"] for r in rows if r["server"] not in BASELINES}
    unavailable = results["ack"]["unavailable"]
    for endpoint in ("POST /v1/triggers", "POST /hooks/terraform", "POST /hooks/alertmanager", "POST /hooks/slack",
                     "POST /hooks/terraform/run-task"):
        assert endpoint in measured or endpoint in unavailable
    assert any(r["sync"] == "NORMAL" for r in rows if r["server"] not in BASELINES)
    assert any(r["server"] == "bare Flask" for r in rows)
    assert any(r["server"] == "durable floor" for r in rows)
    assert any(r["server"] == "peer" for r in rows) or any(u.startswith("peer") for u in unavailable)
    for row in rows:
        assert positive(row["requests"]) and positive(row["rps"])
        assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]
    for row in (r for r in rows if r["server"] == "peer"):
        assert row["executed"] >= 0 and row["acked"] >= 0
    assert "| vcf-backup-webhook serve | POST /v1/triggers |" in markdown
    assert "| durable floor (" in markdown


def test_storm_counts_backups_results_and_the_peers_script_runs(smoke):
    results, _ = smoke
    storm = results["storm"]
    assert storm["triggers"] > 0
    for key in ("acked_2xx", "backups_started", "results_delivered", "lost", "duplicated"):
        assert isinstance(storm[key], int)
    assert positive(storm["task_end_to_last_callback_s"]) or storm["results_delivered"] == 0
    if results["peer_storm"] is not None:
        assert isinstance(results["peer_storm"]["backups_started"], int)


def test_reaction_memory_growth_and_store_size_have_numbers(smoke):
    results, markdown = smoke
    reaction = results["reaction"]
    for key in ("submit_median_ms", "submit_p99_ms", "callback_median_ms", "callback_p99_ms"):
        assert isinstance(reaction[key], float)
    memory = results["memory"]
    roles = set(memory["peak_mb"])
    assert {"gunicorn master", "worker loop"} <= roles and any(r.startswith("gunicorn worker") for r in roles)
    assert all(positive(memory["peak_mb"][r]) and positive(memory["idle_mb"][r]) for r in roles)
    sizes = results["growth"]["sizes"]
    assert len(sizes) >= 2
    for size in sizes:
        assert positive(size["cycle_median_ms"]) and positive(size["ack_p99_ms"])
    store = results["growth"]["store"]
    assert positive(store["before"]["file_mb"]) and store["removed"]["triggers"] == sizes[-1]["history"]
    assert results["targets"] and "## Targets" in markdown
    assert not results["errors"]


def test_isolation_figures_with_and_without_the_disturbance(smoke):
    results, markdown = smoke
    clients = results["isolation"]["slow_clients"]
    assert clients["tricklers"] == 200
    for phase in ("quiet", "trickled"):
        for kind in ("healthz", "trigger"):
            assert positive(clients[phase][kind]["p99_ms"]) and clients[phase][kind]["requests"] > 0
    callback = results["isolation"]["slow_callback"]
    for phase in ("quiet", "slow_callback"):
        assert positive(callback[phase]["median_ms"]) and positive(callback[phase]["p99_ms"])
    assert "## 6. Isolation" in markdown
    assert any(c["target"].startswith("6. ") for c in results["targets"])


def test_the_large_storm_the_costs_and_postgresql_have_numbers(smoke):
    results, markdown = smoke
    large = results["storm_large"]
    assert large["triggers"] > results["storm"]["triggers"]
    assert isinstance(large["results_delivered"], int) and positive(max(large["peak_mb"].values()))
    costs = results["costs"]
    assert positive(costs["totals_us"]["durable floor"]) and positive(costs["totals_us"]["POST /v1/triggers"])
    assert not any(costs["errors"].values()), costs["errors"]
    named = {row["cost"] for row in costs["costs"]}
    assert {"request id (take or make, echo)", "cooldown lookup (read before the write)",
            "Slack signature check (slack_sdk SignatureVerifier)"} <= named
    assert all(positive(row["us"]) for row in costs["costs"])
    postgres = results["postgres"]
    if "unavailable" not in postgres:
        servers = {r["server"] for r in postgres["rows"]}
        assert {"pg-floor", "pg-1web", "pg-2web"} <= servers
        assert all(positive(r["rps"]) for r in postgres["rows"])
    assert "## 7. Where the CPU" in markdown and "## 8. PostgreSQL" in markdown


def test_the_status_page_section_measures_every_view_beside_healthz(smoke):
    results, markdown = smoke
    rows = {r["path"]: r for r in results["ui"]["rows"]}
    assert {"/ui/", "/ui/triggers", "/ui/health", "/healthz"} <= set(rows)
    for row in rows.values():
        assert positive(row["requests"]) and positive(row["p99_ms"]) and row["errors"] == 0
    assert "## 9. Status page" in markdown
