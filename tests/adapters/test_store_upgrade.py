"""A database made by the release before migrations upgrades in place: every row is still there and
still means the same (SQLite and PostgreSQL), and nodes that start together on it take turns."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from webhook.adapters.store import SqlStore
from webhook.adapters.store.migrations.head import HEAD
from webhook.adapters.store.migrations.migrate import current_revision, head
from webhook.core.models import default_spec
from webhook.core.triggers import Backup, BackupState, DeliveryState, TriggerState

from tests.adapters import release_schema_0001 as old
from tests.support.postgres import fresh_database

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC).timestamp()
SPEC = default_spec()


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """The URL of a database as the previous release left it: its schema, its rows, no alembic_version."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'release.db'}"
    else:
        url = fresh_database(request.getfixturevalue("postgres_url"), "upgrade")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        old.metadata.create_all(conn)
        conn.execute(old.backups.insert(), [
            _backup("bkp_done", "SUCCESSFUL", slot=None, task="task-1"),
            _backup("bkp_running", "IN_PROGRESS", slot="sddc-manager", task="task-2"),
        ])
        conn.execute(old.triggers.insert(), [
            _trigger("trg_done", "DONE", "bkp_done", dedupe="k1"),
            _trigger("trg_riding", "ATTACHED", "bkp_running", dedupe="k2"),
            _trigger("trg_waiting", "ACCEPTED", None, dedupe=None),
        ])
        conn.execute(old.deliveries.insert(), [
            _delivery("dlv_sent", "trg_done", "DELIVERED"), _delivery("dlv_owed", "trg_riding", "PENDING")])
        conn.execute(old.workers.insert().values(worker_id="wrk_1", beat_at=NOW))
    engine.dispose()
    yield url


def _backup(id_: str, state: str, *, slot: str | None, task: str) -> dict[str, object]:
    return {"id": id_, "spec": SPEC.to_json_dict(), "spec_key": SPEC.key(), "state": state, "active_slot": slot,
            "sddc_task_id": task, "adopted": False, "name": "backup", "sddc_status": state, "resources": [],
            "errors": [], "created_at": NOW, "submit_started_at": NOW, "submitted_at": NOW,
            "completed_at": NOW if slot is None else None, "next_poll_at": None if slot is None else NOW,
            "poll_failures": 0, "submit_attempts": 1}


def _trigger(id_: str, state: str, backup_id: str | None, *, dedupe: str | None) -> dict[str, object]:
    return {"id": id_, "source": "generic", "caller": "ci", "spec": SPEC.to_json_dict(), "spec_key": SPEC.key(),
            "reason": f"reason of {id_}", "dedupe_key": dedupe, "correlation_key": None,
            "callback": {"kind": "webhook", "url": "https://hooks.example.com/x", "options": {}}, "context": {},
            "reuse_if_newer_than": None, "received_at": NOW, "state": state, "backup_id": backup_id, "note": None,
            "completed_at": NOW if state == "DONE" else None}


def _delivery(id_: str, trigger_id: str, state: str) -> dict[str, object]:
    return {"id": id_, "trigger_id": trigger_id, "event": "backup.completed",
            "target": {"kind": "webhook", "url": "https://hooks.example.com/x", "options": {}},
            "body": {"id": trigger_id}, "state": state, "attempts": [], "created_at": NOW,
            "next_attempt_at": NOW, "give_up_at": NOW + 3600, "delivered_at": NOW if state == "DELIVERED" else None,
            "last_error": None}


def test_a_release_database_upgrades_in_place_and_keeps_every_row(old_database: str):
    store = SqlStore.from_url(old_database)
    try:
        with store.engine.connect() as conn:
            assert current_revision(conn) == head()
        done, riding, waiting = (store.get_trigger(i) for i in ("trg_done", "trg_riding", "trg_waiting"))
        assert done is not None and done.state is TriggerState.DONE and done.backup_id == "bkp_done"
        assert riding is not None and riding.state is TriggerState.ATTACHED and riding.reason == "reason of trg_riding"
        assert waiting is not None and [t.id for t in store.accepted_triggers(10)] == ["trg_waiting"]
        assert {t.instance for t in (done, riding, waiting)} == {"default"}
        assert store.get_backup("bkp_done") is not None
        assert store.find_backup_by_task("task-1") == store.get_backup("bkp_done")
        # The running backup still holds its instance's slot: no second backup opens beside it.
        active = store.active_backup("default")
        assert active is not None and active.id == "bkp_running" and active.state is BackupState.IN_PROGRESS
        opened, created = store.open_backup(Backup(spec=SPEC, created_at=datetime.now(UTC)))
        assert not created and opened.id == "bkp_running"
        assert [d.state for d in store.deliveries_of_trigger("trg_done")] == [DeliveryState.DELIVERED]
        assert [d.id for d in store.deliveries_of_trigger("trg_riding")] == ["dlv_owed"]
        assert store.last_heartbeat() is not None
        with store.engine.connect() as conn:  # the indexes later releases added are there too
            indexes = {i["name"] for i in sa.inspect(conn).get_indexes("backups")}
        assert {"ix_backups_created", "ix_backups_instance_key_state"} <= indexes
        # A second start finds the newest revision and changes nothing.
        again = SqlStore.from_url(old_database)
        assert again.get_trigger("trg_done") == done
        again.engine.dispose()
    finally:
        store.engine.dispose()


def test_nodes_starting_together_on_a_release_database_upgrade_it_once(old_database: str):
    errors: list[BaseException] = []
    stores: list[SqlStore] = []

    def start() -> None:
        try:
            stores.append(SqlStore.from_url(old_database))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and len(stores) == 4
    assert stores[0].get_trigger("trg_riding") is not None
    for store in stores:
        store.engine.dispose()


def test_a_new_database_is_created_at_the_newest_revision(tmp_path):
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 'new.db'}")
    with store.engine.connect() as conn:
        assert current_revision(conn) == head()
        columns = {c["name"] for c in sa.inspect(conn).get_columns("backups")}
    assert "instance" in columns
    store.engine.dispose()


def test_the_head_known_without_alembic_is_alembics_own_head():
    """The store skips Alembic when the schema is at ``HEAD``: a new migration must move it too."""
    assert head() == HEAD


def test_a_new_or_current_store_opens_without_importing_alembic(tmp_path):
    """Alembic and Mako stay out of a process whose store needs no upgrade (about 10 MB each process)."""
    url = f"sqlite:///{tmp_path / 'current.db'}"
    code = ("import sys; from webhook.adapters.store import SqlStore; "
            f"SqlStore.from_url({url!r}).engine.dispose(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))")
    for _new_then_current in range(2):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
        assert done.stdout.strip() == "[]", done.stdout
    with sa.create_engine(url).connect() as conn:  # what Alembic itself reads back
        assert current_revision(conn) == head()
