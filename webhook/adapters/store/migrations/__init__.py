"""Alembic revisions of the store's schema, and the one function that applies them (``migrate``)."""
