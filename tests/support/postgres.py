"""A throwaway PostgreSQL server on loopback for the tests (Debian's postgresql package)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.node import free_port

BIN = Path("/usr/lib/postgresql")


def binaries() -> Path | None:
    found = sorted(BIN.glob("*/bin/initdb")) if BIN.exists() else []
    return found[-1].parent if found else None


def _as_postgres(args: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; run them as the postgres user when we are root.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def postgres_server(*, durable: bool = False) -> Iterator[str]:
    """Yields a SQLAlchemy URL of an empty database; the server is stopped and deleted afterwards.

    ``durable``: fsync as a production server does (the bench); tests skip it for speed.
    """
    bin_dir = binaries()
    assert bin_dir is not None
    root = Path(tempfile.mkdtemp(prefix="vcfbackup-pg-"))
    data, port = root / "data", free_port()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    try:
        subprocess.run(_as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                                     "--no-sync"]), check=True, capture_output=True)
        server = subprocess.Popen(_as_postgres([
            str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(root),
            "-c", "listen_addresses=127.0.0.1", "-c", f"fsync={'on' if durable else 'off'}",
            "-c", "max_connections=200"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
            _wait_ready(url)
            yield url
        finally:
            server.terminate()
            server.wait(30)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(server_url: str, prefix: str = "t") -> str:
    """Create an empty database on the server at ``server_url``; its SQLAlchemy URL."""
    import uuid

    import sqlalchemy as sa

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    finally:
        admin.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name


def _wait_ready(url: str, timeout: float = 30.0) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
                return
            except sa.exc.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        engine.dispose()
