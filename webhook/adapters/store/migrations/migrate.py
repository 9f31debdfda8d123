"""Bring a store's schema to the newest revision, inside the caller's transaction.

The store calls ``migrate`` at start (``serve``, ``worker``, ``demo``, ``db upgrade``), under the
lock schema creation always held: PostgreSQL's advisory lock, SQLite's write lock. Three cases:

- an empty database: every table as ``schema.py`` describes it, stamped with the newest revision;
- a database of a release before migrations (tables, no ``alembic_version``): stamped with the
  baseline, then upgraded;
- a database that has a revision: upgraded from it (nothing to do when it is the newest).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from ..schema import metadata

log = logging.getLogger("webhook.store")

BASELINE = "0001"
HERE = Path(__file__).parent


@functools.cache
def config() -> Config:
    made = Config()
    made.set_main_option("script_location", str(HERE))
    return made


@functools.cache
def scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(config())


def head() -> str:
    return str(scripts().get_current_head())


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def migrate(conn: Connection) -> list[str]:
    """Upgrade the schema on ``conn`` to the newest revision; the revisions applied (for the log)."""
    tables = set(sa.inspect(conn).get_table_names())
    context = MigrationContext.configure(conn)
    newest = head()
    if "alembic_version" not in tables and "triggers" not in tables:
        metadata.create_all(conn)
        context.stamp(scripts(), newest)
        return []
    if "alembic_version" not in tables:
        context.stamp(scripts(), BASELINE)
    current = context.get_current_revision()
    applied: list[str] = []
    if current != newest:
        script = scripts()

        def upgrade(revision: str, _context: object) -> object:
            steps = script._upgrade_revs(newest, revision)  # what `alembic upgrade head` runs
            applied.extend(step.revision.revision for step in steps)
            return steps

        with EnvironmentContext(config(), script, fn=upgrade, destination_rev=newest) as env:
            env.configure(connection=conn)
            with env.begin_transaction():
                env.run_migrations()
        log.info("store schema upgraded", extra={"event": "store.upgraded", "from": current, "to": newest,
                                                 "revisions": applied})
    metadata.create_all(conn)  # tables an older release did not have yet (checkfirst)
    return applied
