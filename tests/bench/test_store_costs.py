"""Two store changes the benchmark led to: writers queue on a host lock, and the worker's query for
stranded triggers starts from the few ATTACHED triggers instead of walking history."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from webhook.adapters.store import SqlStore, WriterQueue
from webhook.core.triggers import Backup, BackupState, Trigger, TriggerState
from webhook.sources.generic import default_spec

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def trigger(n: int) -> Trigger:
    return Trigger(source="generic", caller="ci", spec=default_spec(), reason=f"t{n}", received_at=NOW)


def end_backup(store: SqlStore, backup: Backup) -> None:
    [claimed] = store.claim_backups("w1", NOW, 60, 10)
    claimed.state = BackupState.SUCCESSFUL
    claimed.completed_at = NOW
    assert store.save_backup(claimed, "w1")


def test_stranded_triggers_are_those_left_attached_to_an_ended_backup(tmp_path: Path):
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 's.db'}")
    first, second = trigger(1), trigger(2)
    for t in (first, second):
        store.add_trigger(t)
    ended, _ = store.open_backup(Backup(spec=first.spec, created_at=NOW))
    store.attach_triggers([first.id], ended.id, [])
    end_backup(store, ended)
    running, _ = store.open_backup(Backup(spec=second.spec, created_at=NOW))
    store.attach_triggers([second.id], running.id, [])
    assert [t.id for t in store.stranded_triggers(10)] == [first.id]
    assert store.get_trigger(second.id).state is TriggerState.ATTACHED


def test_stranded_triggers_query_uses_the_state_index_not_the_history_of_ended_backups(tmp_path: Path):
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 's.db'}")
    seen: list[tuple[str, object]] = []

    @sa.event.listens_for(store.engine, "before_cursor_execute")
    def _capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if "FROM triggers" in statement and "backups" in statement:
            seen.append((statement, parameters))

    store.stranded_triggers(200)
    [(statement, parameters)] = seen
    with store.engine.connect() as conn:
        plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
    assert "USING INDEX ix_triggers_state_received" in plan[0], plan
    assert not any(step.startswith("SCAN") for step in plan), plan


def test_writer_queue_lets_one_writer_in_at_a_time_across_instances(tmp_path: Path):
    path = str(tmp_path / "q.lock")
    first, second = WriterQueue(path), WriterQueue(path)  # as two processes of one host would hold it
    order: list[str] = []
    inside = threading.Event()

    def hold_first() -> None:
        with first.hold():
            inside.set()
            time.sleep(0.2)
            order.append("first out")

    holder = threading.Thread(target=hold_first)
    holder.start()
    inside.wait(5)
    with second.hold():
        order.append("second in")
    holder.join(5)
    assert order == ["first out", "second in"]


def test_writer_queue_is_reentrant_within_a_thread(tmp_path: Path):
    queue = WriterQueue(str(tmp_path / "q.lock"))
    with queue.hold(), queue.hold():
        pass
    with queue.hold():  # released fully above, so it can be taken again
        pass


def test_concurrent_writers_all_commit(tmp_path: Path):
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 's.db'}")
    other = SqlStore.from_url(f"sqlite:///{tmp_path / 's.db'}")  # a second "process" on the same file
    errors: list[BaseException] = []

    def write(target: SqlStore, base: int) -> None:
        try:
            for n in range(25):
                target.add_trigger(trigger(base + n))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s, 100 * i)) for i, s in enumerate([store, other] * 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert len(store.list_triggers(source=None, state=None, since=None, limit=500)) == 200
