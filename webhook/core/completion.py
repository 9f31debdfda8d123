"""Finishing triggers: DONE with the backup they rode on, and the callbacks that owes, in one commit.

Shared by the attach step (a reused recent backup, a trigger that cannot be handled) and the backup
step (a backup that ended), so the final word is built one way whatever ended the trigger.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from .delivery_policy import DeliveryPolicy, owed_deliveries
from .models import Error
from .ports import Clock, Store
from .triggers import Backup, BackupState, DeliveryEvent, Trigger, TriggerState

log = logging.getLogger("webhook.worker")


def reference_token() -> str:
    """The token an operator greps the log for; the same one goes into the item's recorded error."""
    return secrets.token_hex(6).upper()


class Completer:
    def __init__(self, store: Store, clock: Clock, policy: DeliveryPolicy) -> None:
        self.store = store
        self.clock = clock
        self.policy = policy

    def complete(self, triggers: list[Trigger], backup: Backup, note: str | None) -> None:
        if not triggers:
            return
        now = self.clock.now()
        for trigger in triggers:
            trigger.state, trigger.completed_at, trigger.backup_id = TriggerState.DONE, now, backup.id
            trigger.note = note or trigger.note
        owed = owed_deliveries(triggers, backup, DeliveryEvent.COMPLETED, self.policy, now, note)
        done = self.store.complete_triggers([t.id for t in triggers], backup.id, now, note, owed)
        log_batch("triggers done", "trigger.done", done, backup_id=backup.id, state=backup.state.value)

    def fail(self, trigger: Trigger, exc: Exception, now: datetime) -> None:
        """A trigger the worker could not handle ends DONE with the reason; its callback says so.

        It gets a failed backup record of its own (never sent to SDDC Manager), so the callback and the
        audit trail carry the same error, with the referenceToken that is also in the log.
        """
        token = reference_token()
        log.error("trigger could not be handled", exc_info=exc, extra={
            "event": "trigger.failed", "trigger_id": trigger.id, "referenceToken": token})
        error = Error(errorCode="VCFBACKUP_TRIGGER_FAILED", referenceToken=token,
                      message=f"The service could not handle this trigger ({type(exc).__name__}); "
                              "no backup was started for it.",
                      remediationMessage="Report the referenceToken to the operators of this service.")
        failed = Backup(spec=trigger.spec, state=BackupState.SUBMIT_FAILED, errors=[error], created_at=now,
                        completed_at=now)
        self.complete([trigger], failed, f"Not handled: {error.message} (referenceToken {token})")


def log_batch(message: str, event: str, trigger_ids: list[str], **fields: object) -> None:
    """One INFO line per batch (a storm of 1,000 triggers is two lines), one DEBUG line per trigger."""
    if not trigger_ids:
        return
    log.info(message, extra={"event": event, "count": len(trigger_ids), "trigger_ids": trigger_ids[:20], **fields})
    if log.isEnabledFor(logging.DEBUG):
        for trigger_id in trigger_ids:
            log.debug(message, extra={"event": event, "trigger_id": trigger_id, **fields})
