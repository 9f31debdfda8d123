"""The status page's indexes (issue 16) on databases made before them.

A database made by a release without migrations may or may not have them (``create_all`` made them
only for new tables), so each is created only when missing. The ``sddc_contacts`` table needs no
revision: the store creates missing tables at start.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEXES = (("ix_triggers_caller_received", "triggers", ["caller", "received_at"]),
           ("ix_backups_created", "backups", ["created_at"]))


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for name, table, columns in INDEXES:
        if name not in {index["name"] for index in inspector.get_indexes(table)}:
            op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table)
