"""The request path's lookup connections: kept out of the pool, reused, never kept in an unknown state."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from webhook.adapters.store import SqlStore
from webhook.adapters.store.sqlite_readers import SqliteReaders
from webhook.core.triggers import Trigger
from webhook.sources.generic import default_spec

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_a_borrowed_connection_is_reused_and_holds_no_pool_slot(tmp_path: Path) -> None:
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 's.db'}")
    readers = SqliteReaders(store.engine)
    with readers.borrow() as first:
        assert first.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # the engine's PRAGMAs are set
        assert store.engine.pool.checkedout() == 0  # detached: the pool's slots stay free
    with readers.borrow() as again:
        assert again is first
    with readers.borrow() as one, readers.borrow() as two:  # two at once: the second one is opened
        assert one is first and two is not first
    readers.close()


def test_only_keep_connections_wait_idle_and_a_failed_read_keeps_none(tmp_path: Path) -> None:
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 's.db'}")
    readers = SqliteReaders(store.engine, keep=1)
    with readers.borrow() as one, readers.borrow() as two:
        pass
    with readers.borrow() as kept:
        assert kept is two  # the first one back was kept; the other was closed
    with pytest.raises(sqlite3.ProgrammingError):
        one.execute("SELECT 1")
    with pytest.raises(sqlite3.OperationalError), readers.borrow() as broken:
        broken.execute("SELECT nothing FROM nowhere")
    with pytest.raises(sqlite3.ProgrammingError):
        broken.execute("SELECT 1")  # closed, not kept
    with readers.borrow() as fresh:
        assert fresh is not broken and fresh.execute("SELECT 1").fetchone() == (1,)


def test_a_forked_child_does_not_use_its_parents_connections(tmp_path: Path) -> None:
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 's.db'}")
    readers = SqliteReaders(store.engine)
    with readers.borrow() as parents:
        pass
    readers._pid = -1  # what a fork looks like from the child
    with readers.borrow() as childs:
        assert childs is not parents


def test_the_cooldown_lookup_sees_what_the_batches_committed_meanwhile(tmp_path: Path) -> None:
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 's.db'}")
    assert store.recent_correlated("alertmanager", "am:k", NOW - timedelta(seconds=1)) is None  # a kept reader now
    fired = Trigger(source="alertmanager", caller="alertmanager", spec=default_spec(), correlation_key="am:k",
                    received_at=NOW)
    store.add_trigger(fired)
    found = store.recent_correlated("alertmanager", "am:k", NOW - timedelta(seconds=1))
    assert found is not None and found.id == fired.id  # no stale snapshot kept on the reused connection
    skipped = Trigger(source="alertmanager", caller="alertmanager", spec=default_spec(), correlation_key="am:s",
                      received_at=NOW)
    store.skip_trigger(skipped)
    assert store.recent_correlated("alertmanager", "am:s", NOW - timedelta(seconds=1)) is None
    later = Trigger(source="alertmanager", caller="alertmanager", spec=default_spec(), correlation_key="am:k",
                    received_at=NOW + timedelta(seconds=5))
    assert store.add_trigger(later)[1]  # the reader left no read transaction that would block the writer
    assert store.recent_correlated("alertmanager", "am:k", NOW + timedelta(seconds=1)).id == later.id
