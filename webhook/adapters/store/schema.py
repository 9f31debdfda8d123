"""Tables of the store (SQLAlchemy Core). Times are UTC epoch seconds (float) on every backend.

Indexes follow what the worker and the request path query, so their cost does not grow with history.
``backups.active_slot`` is the lock that keeps each SDDC Manager to one backup at a time: it holds
the backup's instance name while the backup is active and NULL afterwards, under a UNIQUE constraint.

The schema changes only by an Alembic revision (``migrations/versions``): a database made by an
earlier release is upgraded in place when the store starts.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

triggers = sa.Table(
    "triggers",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("source", sa.String(40), nullable=False),
    sa.Column("caller", sa.String(200), nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("spec_key", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("dedupe_key", sa.String(300)),
    sa.Column("correlation_key", sa.String(300)),
    sa.Column("callback", sa.JSON),
    sa.Column("context", sa.JSON),
    sa.Column("reuse_if_newer_than", sa.Float),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("backup_id", sa.String(40)),
    sa.Column("note", sa.Text),
    sa.Column("completed_at", sa.Float),
    # The SDDC Manager instance this trigger is for ("*" on a fan-out trigger, whose children carry one each).
    sa.Column("instance", sa.String(40), nullable=False, server_default="default"),
    sa.Column("parent_id", sa.String(40)),  # a fan-out child: the trigger it answers to
    sa.Column("targets", sa.JSON),  # a fan-out trigger: the instances its selector matched
    sa.UniqueConstraint("caller", "dedupe_key", name="uq_triggers_caller_dedupe"),
    sa.Index("ix_triggers_state_received", "state", "received_at"),
    sa.Index("ix_triggers_backup", "backup_id"),
    sa.Index("ix_triggers_source_received", "source", "received_at"),
    sa.Index("ix_triggers_received", "received_at"),
    sa.Index("ix_triggers_correlation", "source", "correlation_key", "received_at"),
    sa.Index("ix_triggers_parent", "parent_id"),
    sa.Index("ix_triggers_caller_received", "caller", "received_at"),  # the status page's caller filter
)

backups = sa.Table(
    "backups",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("spec_key", sa.String(200), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("active_slot", sa.String(40), unique=True),
    sa.Column("sddc_task_id", sa.String(100)),
    sa.Column("adopted", sa.Boolean, nullable=False, default=False),
    sa.Column("name", sa.String(300)),
    sa.Column("sddc_status", sa.String(40)),
    sa.Column("resources", sa.JSON),
    sa.Column("errors", sa.JSON),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("submit_started_at", sa.Float),
    sa.Column("submitted_at", sa.Float),
    sa.Column("completed_at", sa.Float),
    sa.Column("next_poll_at", sa.Float),
    sa.Column("poll_failures", sa.Integer, nullable=False, default=0),
    sa.Column("submit_attempts", sa.Integer, nullable=False, default=0),
    sa.Column("lease_owner", sa.String(40)),
    sa.Column("lease_until", sa.Float),
    sa.Column("instance", sa.String(40), nullable=False, server_default="default"),
    sa.Index("ix_backups_task", "sddc_task_id"),
    sa.Index("ix_backups_key_state_completed", "spec_key", "state", "completed_at"),
    sa.Index("ix_backups_state", "state"),
    sa.Index("ix_backups_instance_key_state", "instance", "spec_key", "state", "completed_at"),
    sa.Index("ix_backups_created", "created_at"),  # the status page: latest backups, 30 days of outcomes
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("trigger_id", sa.String(40), nullable=False),
    sa.Column("event", sa.String(40), nullable=False),
    sa.Column("target", sa.JSON, nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("attempts", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("next_attempt_at", sa.Float),
    sa.Column("give_up_at", sa.Float, nullable=False),
    sa.Column("delivered_at", sa.Float),
    sa.Column("last_error", sa.Text),
    sa.Column("lease_owner", sa.String(40)),
    sa.Column("lease_until", sa.Float),
    sa.Index("ix_deliveries_trigger", "trigger_id"),
    sa.Index("ix_deliveries_state_next", "state", "next_attempt_at"),
)

workers = sa.Table(
    "workers",
    metadata,
    sa.Column("worker_id", sa.String(40), primary_key=True),
    sa.Column("beat_at", sa.Float, nullable=False),
    sa.Index("ix_workers_beat", "beat_at"),
)

# Workers whose cycles keep failing, and why (``/readyz`` is 503 while a row is here).
worker_faults = sa.Table(
    "worker_faults",
    metadata,
    sa.Column("worker_id", sa.String(40), primary_key=True),
    sa.Column("since", sa.Float, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

# The last word a worker had from each SDDC Manager (one row per instance): the status page and the
# reachability gauge read it, so any web process can tell without calling SDDC Manager itself.
sddc_contacts = sa.Table(
    "sddc_contacts",
    metadata,
    sa.Column("instance", sa.String(100), primary_key=True),
    sa.Column("reachable", sa.Boolean, nullable=False),
    sa.Column("checked_at", sa.Float, nullable=False),
    sa.Column("last_ok_at", sa.Float),
    sa.Column("error", sa.Text),
)
