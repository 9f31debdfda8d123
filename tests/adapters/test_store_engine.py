"""Engines: SQLite paths and URIs; PostgreSQL connections pinged only after they sat idle."""

from pathlib import Path

import pytest
import sqlalchemy as sa

from webhook.adapters.store.engine import make_engine, ping_when_idle


def test_a_plain_sqlite_path_gets_its_directory_made(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path}/nested/deeper/store.db")
    try:
        assert (tmp_path / "nested" / "deeper").is_dir()
    finally:
        engine.dispose()


def test_a_file_uri_makes_no_directory_in_the_working_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "store.db"
    engine = make_engine(f"sqlite:///file:{store}?mode=rwc&uri=true")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x)")
    finally:
        engine.dispose()
    assert store.exists()
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(url: str, pid: int) -> None:
    other = sa.create_engine(url)
    try:
        with other.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        other.dispose()


def test_a_postgresql_connection_idle_past_the_ping_time_is_pinged_and_replaced_if_dead(postgres_url: str):
    engine = make_engine(postgres_url)
    ping_when_idle(engine, idle_seconds=0.0)  # every checkout counts as idle: always pinged
    try:
        first = _backend_pid(engine)
        _terminate(postgres_url, first)  # the server drops it while it waits in the pool
        assert _backend_pid(engine) != first  # the ping found it dead: a new one, and no error
    finally:
        engine.dispose()


def test_a_postgresql_connection_just_used_is_not_pinged(postgres_url: str):
    engine = make_engine(postgres_url)
    pings: list[object] = []
    ping = engine.dialect.do_ping
    engine.dialect.do_ping = lambda connection: pings.append(connection) or ping(connection)  # type: ignore[method-assign]
    try:
        _backend_pid(engine)  # a new connection: pinged once
        _backend_pid(engine)  # back in the pool a moment ago: taken as alive
        _backend_pid(engine)
        assert len(pings) == 1
    finally:
        engine.dispose()
