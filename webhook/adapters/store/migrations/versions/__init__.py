"""One module per schema revision, oldest first (Alembic reads ``revision``/``down_revision``)."""
