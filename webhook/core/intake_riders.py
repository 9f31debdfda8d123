"""Riders attached at intake: a new trigger that can only ride the backup already running is stored ATTACHED.

In a burst every stored trigger is such a rider. Left ACCEPTED, each cost the worker loop a second
write (its own commit and fsync, under the same write lock as the request path) to attach it about
a quarter of a second later. The request path's transaction already holds that lock, so it reads
the active backups once per batch and stores these riders attached, and nobody has to wake the
worker for them. The rule is the worker's own for riders that need nothing of their own (see
``Store.attach_riders``): not a fan-out, no ``reuseIfNewerThan`` window, and no "started" message
owed; the rest stay ACCEPTED for the worker loop.

A trigger whose callback wants a "started" message is left to the worker even while the backup is
still being submitted (when the worker's own attach takes it): the submit step owes that message to
the triggers it can see attached, and on PostgreSQL a rider committed just after that read would miss it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .delivery_policy import owes_started
from .triggers import Trigger, TriggerState


@dataclass(frozen=True)
class ActiveBackup:
    """An instance's active backup, as the intake transaction reads it."""

    id: str
    instance: str
    spec_key: str


def ride_at_intake(new: Sequence[Trigger], active: Sequence[ActiveBackup],
                   started_kinds: frozenset[str]) -> list[Trigger]:
    """Mark each of ``new`` that can ride an active backup with nothing of its own owed ATTACHED to it.

    Returns the triggers marked (so a transaction that fails can put them back as they were).
    """
    by_target = {(b.instance, b.spec_key): b for b in active}
    marked = []
    for trigger in new:
        if not may_ride(trigger):
            continue
        backup = by_target.get((trigger.instance, trigger.spec.key()))
        if backup is None or owes_started(trigger, backup.id, started_kinds):
            continue
        trigger.state, trigger.backup_id = TriggerState.ATTACHED, backup.id
        marked.append(trigger)
    return marked


def may_ride(trigger: Trigger) -> bool:
    """Whether ``trigger`` could be attached at intake if its backup were running (no read needed to say no)."""
    return (trigger.state is TriggerState.ACCEPTED and trigger.backup_id is None and not trigger.is_fanout
            and trigger.reuse_if_newer_than is None)


def unmark(marked: Sequence[Trigger]) -> None:
    """Put triggers ``ride_at_intake`` marked back to ACCEPTED (their transaction did not commit)."""
    for trigger in marked:
        trigger.state, trigger.backup_id = TriggerState.ACCEPTED, None
