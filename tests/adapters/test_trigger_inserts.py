"""The request path's SQLite insert: rows built straight from the record, one connection kept for the batches."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from webhook.adapters.store import SqlStore, rows
from webhook.adapters.store.schema import triggers
from webhook.adapters.store.trigger_inserts import CoreWriter, _Insert
from webhook.core.models import BackupResource, BackupSpec
from webhook.core.triggers import CallbackTarget, Trigger, TriggerState
from webhook.sources.generic import default_spec

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
_JSON = ("spec", "callback", "context", "targets")


def _rich() -> Trigger:
    return Trigger(
        source="alertmanager", caller="am", reason="disk é full", dedupe_key="k1", correlation_key="c1",
        spec=BackupSpec(elements=[BackupResource(resourceType="SDDC_MANAGER", extraField="kept")]),
        callback=CallbackTarget(kind="slack", url="https://hooks.example/x", options={"channel": "C1"}),
        context={"groupKey": "{}:{a=\"b\"}", "alerts": 2}, reuse_if_newer_than=60.0, received_at=NOW,
        state=TriggerState.SKIPPED, note="cooldown", completed_at=NOW + timedelta(seconds=1), instance="*",
        targets=["east", "west"], parent_id="trg_parent")


@pytest.mark.parametrize("trigger", [
    Trigger(source="generic", caller="ci", spec=default_spec(), received_at=NOW),
    _rich(),
    Trigger(source="slack", caller="u", spec=default_spec(), received_at=NOW,
            context={"user_name": "half a pair \udc80", "nested": {"n": [1, 2.5, None, True]}}),
], ids=["plain", "every-column", "odd-context"])
def test_trigger_values_store_what_trigger_row_stores(trigger: Trigger, tmp_path: Path):
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 's.db'}")
    expected = _Insert(triggers, tuple(rows.trigger_row(trigger)), store.engine).values(rows.trigger_row(trigger))
    found = rows.trigger_values(trigger)
    assert tuple(rows.trigger_row(trigger)) == rows.TRIGGER_COLUMNS
    for name, want, got in zip(rows.TRIGGER_COLUMNS, expected, found, strict=True):
        if name in _JSON and want is not None:
            assert json.loads(got) == json.loads(want), name  # same document; spacing may differ
        else:
            assert got == want, name


def test_a_stored_trigger_reads_back_as_it_was_given(tmp_path: Path):
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 's.db'}")
    given = _rich()
    stored, created = store.add_trigger(given)
    assert created
    assert store.get_trigger(given.id) == given == stored


def test_batches_share_one_connection_and_a_failed_batch_gives_it_back(tmp_path: Path):
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 's.db'}")
    seen: list[int] = []
    writer = store._sqlite_batch
    assert writer is not None

    @contextmanager
    def watch() -> Iterator[Any]:
        with writer() as batch:
            seen.append(id(batch.cursor.connection))
            yield batch

    store._sqlite_batch = watch
    for n in range(3):
        store.add_trigger(Trigger(source="generic", caller="ci", spec=default_spec(), reason=f"t{n}",
                                  received_at=NOW))
    assert len(seen) == 3 and len(set(seen)) == 1
    assert store.engine.pool.checkedout() == 1  # kept for the next batch
    # A batch the database refuses (a trigger id that is taken) rolls back and gives its connection back;
    # the row is retried alone (not stored again), and the next batch commits on a fresh connection.
    twin = Trigger(id=first_id(store), source="generic", caller="ci", spec=default_spec(), reason="twin",
                   received_at=NOW)
    assert store.add_trigger(twin)[1] is False
    assert store.get_trigger(twin.id).reason != "twin"
    assert store.engine.pool.checkedout() == 0  # the failed batch's connection went back to the pool
    after = Trigger(source="generic", caller="ci", spec=default_spec(), reason="after", received_at=NOW)
    assert store.add_trigger(after)[1]
    assert store.get_trigger(after.id) is not None
    with sqlite3.connect(tmp_path / "s.db") as db:
        assert db.execute("SELECT count(*) FROM triggers").fetchone()[0] == 4
    assert len(seen) == 5 and store.engine.pool.checkedout() == 1


def first_id(store: SqlStore) -> str:
    return store.list_triggers(source=None, state=None, since=None, limit=10)[-1].id


def test_the_core_writer_inserts_nothing_for_a_batch_whose_keys_are_all_taken(tmp_path: Path):
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 's.db'}")
    first = Trigger(source="generic", caller="ci", spec=default_spec(), dedupe_key="k", received_at=NOW)
    store.add_trigger(first)
    again = Trigger(source="generic", caller="ci", spec=default_spec(), dedupe_key="k", received_at=NOW)
    with store.engine.begin() as conn:
        taken = CoreWriter(conn).insert_fresh([again])  # Core's path, as on a database without ON CONFLICT
    assert taken == {("ci", "k"): first.id}
    assert store.get_trigger(again.id) is None
