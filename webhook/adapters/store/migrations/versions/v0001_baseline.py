"""Baseline: the schema of releases before migrations (made by ``metadata.create_all``).

A database from such a release has these tables but no ``alembic_version``; the store stamps it
with this revision and upgrades from here. Nothing to do for the revision itself.
"""

from __future__ import annotations

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
