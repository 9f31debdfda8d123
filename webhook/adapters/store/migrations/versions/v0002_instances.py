"""A fleet of SDDC Managers: triggers and backups name their instance; the active slot is per instance.

Rows written before this revision belong to the one SDDC Manager of that release, now named
``default``; an active backup's slot (the constant ``sddc-manager``) becomes ``default`` too, so the
UNIQUE slot keeps one backup at a time per instance.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("triggers", sa.Column("instance", sa.String(40), nullable=False, server_default="default"))
    op.add_column("triggers", sa.Column("parent_id", sa.String(40)))
    op.add_column("triggers", sa.Column("targets", sa.JSON))
    op.create_index("ix_triggers_parent", "triggers", ["parent_id"])
    op.add_column("backups", sa.Column("instance", sa.String(40), nullable=False, server_default="default"))
    op.create_index("ix_backups_instance_key_state", "backups", ["instance", "spec_key", "state", "completed_at"])
    op.execute("UPDATE backups SET active_slot = 'default' WHERE active_slot IS NOT NULL")


def downgrade() -> None:
    op.execute("UPDATE backups SET active_slot = 'sddc-manager' WHERE active_slot IS NOT NULL")
    op.drop_index("ix_backups_instance_key_state", "backups")
    op.drop_index("ix_triggers_parent", "triggers")
    with op.batch_alter_table("backups") as batch:
        batch.drop_column("instance")
    with op.batch_alter_table("triggers") as batch:
        batch.drop_column("targets")
        batch.drop_column("parent_id")
        batch.drop_column("instance")
