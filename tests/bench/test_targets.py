"""The bench judges the peer by what it did, and the ceiling share with the durable floor beside it."""

from __future__ import annotations

from bench.targets import evaluate


def ack_row(server: str, rps: float, **extra: object) -> dict[str, object]:
    return {"server": server, "endpoint": "POST /v1/triggers", "conns": 64, "rps": rps, "p99_ms": 40.0,
            "errors": 0, "requests": int(rps * 10), "default": True, **extra}


def peer_check(rows: list[dict[str, object]]) -> dict[str, object]:
    checks = evaluate({"ack": {"rows": rows}})
    return next(c for c in checks if "× peer" in c["target"])


def test_a_peer_that_dropped_most_commands_is_judged_by_the_ones_it_ran() -> None:
    peer = ack_row("peer", 4000.0, acked=40_000, executed=10_000, done_rps=1000.0)

    assert peer_check([ack_row("ours", 2100.0), peer])["passed"] is True  # 2 × 1,000 done/s, not 2 × 4,000
    assert peer_check([ack_row("ours", 1900.0), peer])["passed"] is False


def test_older_results_without_a_done_rate_fall_back_to_the_acknowledged_rate() -> None:
    assert peer_check([ack_row("ours", 1900.0), ack_row("peer", 1000.0)])["passed"] is False


def test_the_durable_floor_is_a_baseline_shown_beside_the_ceiling_share_not_judged() -> None:
    rows = [ack_row("ours", 1500.0), ack_row("bare Flask", 5000.0), ack_row("durable floor", 2300.0)]

    checks = evaluate({"ack": {"rows": rows}})

    ceiling = [c for c in checks if "× bare Flask" in c["target"]]
    assert len(ceiling) == 1  # only ours is judged
    assert ceiling[0]["passed"] is False
    assert "durable floor: 0.46 × bare" in ceiling[0]["measured"]


def ui_result(history: int, p99: float) -> dict[str, object]:
    rows = [{"path": "/ui/", "p99_ms": p99, "errors": 0, "requests": 100},
            {"path": "/healthz", "p99_ms": 3.0, "errors": 0, "requests": 900}]
    return {"ui": {"history": history, "conns": 4, "rows": rows}}


def test_the_status_page_is_judged_at_100k_triggers_with_healthz_beside_it() -> None:
    check = next(c for c in evaluate(ui_result(100_000, 80.0)) if "GET /ui/ ≤" in c["target"])
    assert check["passed"] is True and "/healthz 3.0 ms" in check["measured"]
    assert next(c for c in evaluate(ui_result(100_000, 120.0)) if "GET /ui/ ≤" in c["target"])["passed"] is False
    assert next(c for c in evaluate(ui_result(1_000, 80.0)) if "GET /ui/ ≤" in c["target"])["passed"] is None
