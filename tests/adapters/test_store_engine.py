from pathlib import Path

import pytest

from webhook.adapters.store.engine import make_engine


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
