"""Group commit: concurrent triggers share one transaction, and each caller still gets its own answer."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from datetime import UTC, datetime

import pytest

from webhook.adapters.store import SqlStore
from webhook.adapters.store.group_commit import GroupCommit
from webhook.adapters.store.schema import metadata
from webhook.adapters.store.trigger_rows import NewTrigger
from webhook.core.errors import StoreUnavailable
from webhook.core.triggers import CallbackTarget, Delivery, DeliveryEvent, Trigger
from webhook.sources.generic import default_spec

from tests.support.postgres import fresh_database


def trigger(caller: str = "ci", key: str | None = None) -> Trigger:
    return Trigger(source="generic", caller=caller, spec=default_spec(), dedupe_key=key,
                   received_at=datetime(2026, 11, 27, 12, 0, tzinfo=UTC))


class GatedCommits:
    """A commit function whose first batch waits until ``release`` is set, so later callers queue up."""

    def __init__(self, fail_batch: int | None = None) -> None:
        self.batches: list[list[str]] = []
        self.first_started = threading.Event()
        self.release = threading.Event()
        self.fail_batch = fail_batch

    def __call__(self, batch: Sequence[Trigger]) -> list[tuple[Trigger, bool]]:
        self.batches.append([t.id for t in batch])
        if len(self.batches) == 1:
            self.first_started.set()
            assert self.release.wait(5)
        if self.fail_batch == len(self.batches):
            raise StoreUnavailable("disk full")
        return [(t, True) for t in batch]


def run_concurrently(group: GroupCommit, commits: GatedCommits, followers: int) -> dict[str, object]:
    """One caller leads a blocked first batch; ``followers`` more arrive meanwhile."""
    results: dict[str, object] = {}

    def add(t: Trigger) -> None:
        try:
            results[t.id] = group.add(t)
        except StoreUnavailable as exc:
            results[t.id] = exc

    first = threading.Thread(target=add, args=(trigger(),))
    first.start()
    assert commits.first_started.wait(5)
    rest = [threading.Thread(target=add, args=(trigger(),)) for _ in range(followers)]
    for thread in rest:
        thread.start()
    while group.pending() < followers:  # every follower has handed in its trigger
        threading.Event().wait(0.005)
    commits.release.set()
    for thread in [first, *rest]:
        thread.join(5)
    return results


def test_triggers_that_arrive_during_a_commit_share_the_next_one() -> None:
    commits = GatedCommits()
    group = GroupCommit(commits, nullcontext)

    results = run_concurrently(group, commits, followers=7)

    assert [len(b) for b in commits.batches] == [1, 7]
    assert len(results) == 8
    assert all(isinstance(r, tuple) and r[0].id == tid and r[1] for tid, r in results.items())


def test_committed_batches_are_counted_by_the_time_their_callers_return() -> None:
    commits = GatedCommits()
    group = GroupCommit(commits, nullcontext)
    run_concurrently(group, commits, followers=3)
    assert group.committed == 2  # the blocked first batch, then the three that queued behind it
    group.add(trigger())
    assert group.committed == 3


def test_a_failed_batch_is_not_counted_as_committed() -> None:
    commits = GatedCommits(fail_batch=2)
    group = GroupCommit(commits, nullcontext)
    run_concurrently(group, commits, followers=2)
    assert group.committed == 1


def test_a_failed_commit_fails_every_caller_of_that_batch_and_no_other() -> None:
    commits = GatedCommits(fail_batch=2)
    group = GroupCommit(commits, nullcontext)

    results = run_concurrently(group, commits, followers=3)

    first_id = commits.batches[0][0]
    assert isinstance(results[first_id], tuple)
    failed = [r for tid, r in results.items() if tid != first_id]
    assert len(failed) == 3 and all(isinstance(r, StoreUnavailable) for r in failed)
    # the group is usable again afterwards
    later = trigger()
    assert group.add(later) == (later, True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> Iterator[SqlStore]:
    """The same store behaviour on both backends (SQLite takes the sqlite3 path, PostgreSQL Core's)."""
    if request.param == "sqlite":
        yield SqlStore.from_url(f"sqlite:///{tmp_path / 'g.db'}")
        return
    store = SqlStore.from_url(request.getfixturevalue("postgres_url"))
    yield store
    with store.engine.begin() as conn:
        metadata.drop_all(conn)
    store.engine.dispose()


def test_a_batch_stores_new_triggers_and_answers_duplicates_with_the_stored_one(store: SqlStore) -> None:
    earlier = trigger(key="deploy-42")
    assert store.add_trigger(earlier) == (earlier, True)
    again, twin_a, twin_b, other_caller, unkeyed = (
        trigger(key="deploy-42"), trigger(key="k-1"), trigger(key="k-1"), trigger("tf", "k-1"), trigger())

    outcomes = store._add_batch([NewTrigger(t) for t in (again, twin_a, twin_b, other_caller, unkeyed)])

    assert [(t.id, created) for t, created in outcomes] == [
        (earlier.id, False), (twin_a.id, True), (twin_a.id, False), (other_caller.id, True), (unkeyed.id, True)]
    for t in (earlier, twin_a, other_caller, unkeyed):
        stored = store.get_trigger(t.id)
        assert stored is not None and stored.spec == t.spec and stored.dedupe_key == t.dedupe_key
    assert store.get_trigger(again.id) is None and store.get_trigger(twin_b.id) is None


def owed_by(t: Trigger) -> Delivery:
    return Delivery(id=f"dlv_{t.id}", trigger_id=t.id, event=DeliveryEvent.DEADLINE,
                    target=CallbackTarget(url="https://cb.example.com/x"), body={"note": "deadline"},
                    created_at=t.received_at, next_attempt_at=t.received_at, give_up_at=t.received_at)


def test_what_a_new_trigger_owes_is_stored_with_it_and_a_retry_owes_nothing_again(store: SqlStore) -> None:
    first, retry = trigger(key="run-1"), trigger(key="run-1")

    assert store.add_trigger(first, [owed_by(first)]) == (first, True)
    assert store.add_trigger(retry, [owed_by(retry)])[1] is False

    assert [d.id for d in store.deliveries_of_trigger(first.id)] == [f"dlv_{first.id}"]
    assert store.deliveries_of_trigger(retry.id) == []


def test_concurrent_adds_with_one_key_store_exactly_one_trigger(store: SqlStore) -> None:
    start = threading.Barrier(12)
    outcomes: list[tuple[Trigger, bool]] = []

    def add() -> None:
        start.wait(5)
        outcomes.append(store.add_trigger(trigger(key="same")))

    threads = [threading.Thread(target=add) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    created = [t for t, new in outcomes if new]
    assert len(outcomes) == 12 and len(created) == 1
    assert {t.id for t, _ in outcomes} == {created[0].id}
    assert len(store.list_triggers(source=None, state=None, since=None, limit=50)) == 1


def test_two_replicas_adding_one_key_at_once_store_it_once(store: SqlStore) -> None:
    replica = SqlStore.from_url(str(store.engine.url.render_as_string(hide_password=False)))
    start = threading.Barrier(8)
    outcomes: list[tuple[Trigger, bool]] = []

    def add(target: SqlStore) -> None:
        start.wait(5)
        outcomes.append(target.add_trigger(trigger(key="both")))

    threads = [threading.Thread(target=add, args=(store if n % 2 else replica,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    replica.engine.dispose()

    assert len(outcomes) == 8 and sum(new for _, new in outcomes) == 1
    assert len({t.id for t, _ in outcomes}) == 1


def test_a_broken_store_raises_store_unavailable_for_the_batch(tmp_path) -> None:
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 'b.db'}")
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE triggers")

    with pytest.raises(StoreUnavailable):
        store.add_trigger(trigger())


def test_a_failed_batch_leaves_its_riders_unattached(tmp_path) -> None:
    from webhook.core.triggers import Backup, TriggerState

    store = SqlStore.from_url(f"sqlite:///{tmp_path / 'r.db'}")
    store.ride_at_intake(frozenset())
    store.open_backup(Backup(spec=default_spec(), created_at=datetime(2026, 12, 1, tzinfo=UTC)))
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE triggers")  # the backups read works; the insert fails
    rider = trigger()

    with pytest.raises(StoreUnavailable):
        store.add_trigger(rider)

    assert (rider.state, rider.backup_id) == (TriggerState.ACCEPTED, None)  # a retry reads the backups afresh
    store.engine.dispose()


def test_on_postgresql_a_rider_committed_after_its_backup_ended_is_finished_by_the_stranded_sweep(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """READ COMMITTED: the backup can end between the intake's read of it and the intake's commit.

    The backup's end completes the triggers it can see, so the rider is not among them; it stays
    ATTACHED to an ended backup, which is what the worker's stranded sweep finishes. (On SQLite the
    read and the insert are one BEGIN IMMEDIATE transaction, so the end waits for the commit.)
    """
    from webhook.adapters.store.trigger_inserts import CoreWriter
    from webhook.core.delivery_policy import DeliveryPolicy
    from webhook.core.triggers import Backup, BackupState, TriggerState
    from webhook.core.worker import Worker, WorkerConfig

    from tests.fakes import FakeClock, FakeSddc, RecordingNotifier

    store = SqlStore.from_url(fresh_database(postgres_url, "race"))
    store.ride_at_intake(frozenset())
    store.open_backup(Backup(spec=default_spec(), created_at=datetime(2026, 12, 1, tzinfo=UTC)))
    [backup] = store.claim_backups("w1", datetime(2026, 12, 1, tzinfo=UTC), 60, 10)
    read_then_end = CoreWriter.active_backups

    def backup_ends_meanwhile(writer: CoreWriter):  # noqa: ANN202 - the method it stands in for
        found = read_then_end(writer)
        backup.state, backup.completed_at = BackupState.SUCCESSFUL, datetime(2026, 12, 1, 0, 1, tzinfo=UTC)
        assert store.save_backup(backup, "w1")  # another connection, committed before the intake's
        assert store.triggers_of_backup(backup.id, TriggerState.ATTACHED) == []  # what its end completes
        return found

    monkeypatch.setattr(CoreWriter, "active_backups", backup_ends_meanwhile)
    rider, created = store.add_trigger(trigger())

    assert created and (rider.state, rider.backup_id) == (TriggerState.ATTACHED, backup.id)
    assert [t.id for t in store.stranded_triggers(10)] == [rider.id]
    monkeypatch.undo()
    Worker(store, FakeSddc(), RecordingNotifier(), FakeClock(), WorkerConfig(), DeliveryPolicy()).run_once()
    finished = store.get_trigger(rider.id)
    assert finished is not None and finished.state is TriggerState.DONE and finished.backup_id == backup.id
    store.engine.dispose()
