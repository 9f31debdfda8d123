"""The newest schema revision, known without importing Alembic.

Every process opens the store at start; when the schema is already at this revision (the common
case) the store skips Alembic and Mako altogether, which keeps them out of every long-lived
process's memory. A test holds this constant equal to Alembic's own head.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

HEAD = "0003"


def is_current(conn: Connection) -> bool:
    """True when the schema on ``conn`` is stamped with ``HEAD``: nothing to create or upgrade."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return False
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == HEAD
