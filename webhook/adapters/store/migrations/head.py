"""The newest schema revision and the two cases that need no Alembic: a current or an empty database.

Every process opens the store at start, and ``serve`` creates it before gunicorn forks. Handling
these two cases here keeps Alembic and Mako (about 10 MB) out of every long-lived process; only a
real upgrade imports them (``migrate.py``). A test holds ``HEAD`` equal to Alembic's own head.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..schema import metadata

HEAD = "0003"

# Alembic's own version table, as `alembic stamp` creates it, so that later upgrades read it as theirs.
version_table = sa.Table("alembic_version", sa.MetaData(), sa.Column("version_num", sa.String(32), nullable=False),
                         sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))


def settle_without_alembic(conn: Connection) -> bool:
    """Create an empty database at ``HEAD`` or accept one already there; False when an upgrade is due."""
    tables = set(sa.inspect(conn).get_table_names())
    if not tables & {"alembic_version", "triggers"}:
        metadata.create_all(conn)
        version_table.create(conn)
        conn.execute(version_table.insert().values(version_num=HEAD))
        return True
    if "alembic_version" not in tables or conn.execute(sa.select(version_table.c.version_num)).scalar() != HEAD:
        return False
    if not tables.issuperset(metadata.tables):
        metadata.create_all(conn)  # a table dropped by hand comes back, as after an upgrade (checkfirst)
    return True
