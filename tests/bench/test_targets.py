"""The bench judges every endpoint against baselines measured in the same run (issue 17)."""

from __future__ import annotations

from bench.targets import evaluate
from bench.throughput import bracket


def ack_row(server: str, rps: float, *, endpoint: str = "POST /v1/triggers", conns: int = 64, p99_ms: float = 40.0,
            **extra: object) -> dict[str, object]:
    return {"server": server, "endpoint": endpoint, "conns": conns, "rps": rps, "p99_ms": p99_ms,
            "errors": 0, "requests": int(rps * 10), "default": True, **extra}


def check(rows: list[dict[str, object]], words: str) -> dict[str, object]:
    checks = evaluate({"ack": {"rows": rows}})
    return next(c for c in checks if words in c["target"])


FLOOR = ack_row("durable floor", 2000.0)
BARE = ack_row("bare Flask", 5000.0, p99_ms=60.0)


def test_the_generic_endpoint_needs_eight_tenths_of_the_floor_and_the_rich_hooks_seven() -> None:
    assert check([ack_row("ours", 1600.0), FLOOR], "× durable floor")["passed"] is True
    assert check([ack_row("ours", 1590.0), FLOOR], "× durable floor")["passed"] is False
    slack = {"endpoint": "POST /hooks/slack"}
    assert check([ack_row("ours", 1400.0, **slack), FLOOR], "0.7 × durable floor")["passed"] is True  # type: ignore[arg-type]
    assert check([ack_row("ours", 1390.0, **slack), FLOOR], "0.7 × durable floor")["passed"] is False  # type: ignore[arg-type]


def test_p99_at_64_connections_is_judged_against_bare_flasks_p99_in_the_same_run() -> None:
    assert check([ack_row("ours", 1600.0, p99_ms=90.0), FLOOR, BARE], "p99")["passed"] is True
    assert check([ack_row("ours", 1600.0, p99_ms=91.0), FLOOR, BARE], "p99")["passed"] is False


def test_a_peer_that_dropped_most_commands_is_judged_by_the_ones_it_ran() -> None:
    peer = ack_row("peer", 4000.0, acked=40_000, executed=10_000, done_rps=1000.0)

    assert check([ack_row("ours", 1100.0), FLOOR, peer], "× peer")["passed"] is True  # 1.1 × 1,000 done/s
    assert check([ack_row("ours", 1090.0), FLOOR, peer], "× peer")["passed"] is False


def test_the_peer_target_applies_only_where_the_floor_itself_is_well_ahead_of_the_peer() -> None:
    peer = ack_row("peer", 1700.0, acked=17_000, executed=17_000, done_rps=1700.0)  # floor only 1.18 × peer

    found = check([ack_row("ours", 1600.0), FLOOR, peer], "× peer")

    assert found["passed"] is None and "not judged" in str(found["measured"])


def test_a_large_storm_must_deliver_its_last_result_within_ten_times_the_small_ones_delay() -> None:
    small = {"triggers": 1000, "acked_2xx": 1000, "backups_started": 1, "results_delivered": 1000, "lost": 0,
             "duplicated": 0, "task_end_to_last_callback_s": 2.0}
    large = {**small, "triggers": 10_000, "acked_2xx": 10_000, "results_delivered": 10_000,
             "peak_mb": {"worker loop": 75.0, "gunicorn worker 1": 81.0}}

    checks = evaluate({"storm": small, "storm_large": {**large, "task_end_to_last_callback_s": 20.0}})
    scaling = next(c for c in checks if "≤ 10 × the 1,000-trigger figure" in c["target"])
    memory = {c["target"]: c["passed"] for c in checks if "peak RSS" in c["target"]}
    assert scaling["passed"] is True
    assert memory == {"2. storm of 10,000: peak RSS of gunicorn worker 1 ≤ 80 MB": False,
                      "2. storm of 10,000: peak RSS of worker loop ≤ 80 MB": True}

    checks = evaluate({"storm": small, "storm_large": {**large, "task_end_to_last_callback_s": 20.5}})
    assert next(c for c in checks if "≤ 10 ×" in c["target"])["passed"] is False


def ui_result(history: int, p99: float) -> dict[str, object]:
    rows = [{"path": "/ui/", "p99_ms": p99, "errors": 0, "requests": 100},
            {"path": "/healthz", "p99_ms": 3.0, "errors": 0, "requests": 900}]
    return {"ui": {"history": history, "conns": 4, "rows": rows}}


def test_the_status_page_is_judged_at_100k_triggers_with_healthz_beside_it() -> None:
    check = next(c for c in evaluate(ui_result(100_000, 80.0)) if "GET /ui/ ≤" in c["target"])
    assert check["passed"] is True and "/healthz 3.0 ms" in check["measured"]
    assert next(c for c in evaluate(ui_result(100_000, 120.0)) if "GET /ui/ ≤" in c["target"])["passed"] is False
    assert next(c for c in evaluate(ui_result(1_000, 80.0)) if "GET /ui/ ≤" in c["target"])["passed"] is None


def test_an_endpoint_is_judged_against_the_floor_measured_beside_it_when_there_is_one() -> None:
    beside = {"floor_rps": 1800.0}
    assert check([ack_row("ours", 1440.0, **beside), FLOOR], "× durable floor")["passed"] is True  # type: ignore[arg-type]
    judged = check([ack_row("ours", 1430.0, **beside), FLOOR], "× durable floor")  # type: ignore[arg-type]
    assert judged["passed"] is False and "beside it" in str(judged["measured"])


def test_an_endpoint_s_floor_is_the_mean_of_the_floors_just_before_and_just_after_its_node() -> None:
    assert bracket({16: 2000.0, 64: 1800.0}, {16: 2200.0, 64: 1900.0}, 16) == {
        "floor_rps": 2100.0, "floor_before_rps": 2000.0, "floor_after_rps": 2200.0}
    assert bracket({16: 2000.0}, {}, 16) == {}  # one side missing: the section's floor judges it


def test_the_run_task_is_judged_on_whether_its_worker_loop_kept_up_with_the_running_messages_owed() -> None:
    run_task = {"endpoint": "POST /hooks/terraform/run-task"}
    kept_up = check([ack_row("ours", 1500.0, started_sent=14_300, acked=15_000, **run_task), FLOOR],  # type: ignore[arg-type]
                    "keeps up")
    assert kept_up["passed"] is True and "14,300 sent for 15,000" in str(kept_up["measured"])
    behind = check([ack_row("ours", 1500.0, started_sent=9_000, acked=15_000, **run_task), FLOOR], "keeps up")  # type: ignore[arg-type]
    assert behind["passed"] is False
    assert not any("keeps up" in c["target"] for c in evaluate({"ack": {"rows": [ack_row("ours", 1600.0), FLOOR]}}))
