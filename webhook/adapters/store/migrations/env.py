"""For the ``alembic`` command line (``-x`` not needed): the store runs revisions through ``migrate``."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run `vcf-backup-webhook db upgrade` (it brings the connection and the lock)")
context.configure(connection=connection)
with context.begin_transaction():
    context.run_migrations()
