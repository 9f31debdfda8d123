"""The worker's per-pass question "which fan-outs can finish?" is not asked of a store without fan-outs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from webhook.adapters.store import SqlStore
from webhook.core.triggers import Backup, Trigger
from webhook.sources.generic import default_spec

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_without_a_fan_out_child_the_attached_triggers_are_not_walked(tmp_path: Path):
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 's.db'}")
    backup, _ = store.open_backup(Backup(spec=default_spec(), created_at=NOW))
    attached = [Trigger(source="generic", caller="ci", spec=default_spec(), received_at=NOW) for _ in range(20)]
    for trigger in attached:
        store.add_trigger(trigger)
    store.attach_triggers([t.id for t in attached], backup.id, [])
    seen: list[str] = []

    @sa.event.listens_for(store.engine, "before_cursor_execute")
    def _capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        seen.append(statement)

    assert store.fanouts_ready(10) == []
    [probe] = [s for s in seen if "FROM triggers" in s]
    assert "parent_id >" in probe and "EXISTS" not in probe
    with store.engine.connect() as conn:
        plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {probe}", ("", 1, 0))]
    assert any("ix_triggers_parent" in step for step in plan), plan
