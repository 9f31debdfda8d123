"""Fan-out triggers: one trigger for several instances, one result per instance in one callback.

The attach step splits a fan-out trigger into one child per instance (ordinary triggers, each
coalesced on its own instance); ``FanoutStep`` finishes the parent once every child is done, with
``results: [{instance, ...BackupResult}]`` and ``outcome`` success (all succeeded), partial (some)
or failure (none).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Literal

from .delivery_policy import DeliveryPolicy
from .ports import Clock, Store
from .results import iso, result_document, trigger_summary
from .triggers import Backup, BackupState, Delivery, DeliveryEvent, Trigger, TriggerState

log = logging.getLogger("webhook.worker")

Outcome = Literal["success", "partial", "failure"]


def children(parent: Trigger) -> list[Trigger]:
    """One ordinary trigger per target instance, keyed so that making them twice makes them once."""
    return [Trigger(source=parent.source, caller=f"fanout:{parent.id}", spec=parent.spec, reason=parent.reason,
                    dedupe_key=name, received_at=parent.received_at, reuse_if_newer_than=parent.reuse_if_newer_than,
                    instance=name, parent_id=parent.id) for name in parent.targets or []]


def fanout_outcome(states: list[BackupState | None]) -> Outcome:
    succeeded = sum(1 for state in states if state is BackupState.SUCCESSFUL)
    if states and succeeded == len(states):
        return "success"
    return "partial" if succeeded else "failure"


def fanout_document(parent: Trigger, results: list[tuple[Trigger, Backup | None]]) -> dict[str, Any]:
    """The callback body of a fan-out trigger: its outcome and each instance's BackupResult."""
    items: list[dict[str, Any]] = []
    for child, backup in results:
        if backup is None:  # skipped or never handled: say so in that instance's entry
            items.append({"instance": child.instance, "status": "NOT_STARTED", "outcome": "failure",
                          "note": child.note})
        else:
            items.append({"instance": child.instance, **result_document(child, backup)})
    outcome = fanout_outcome([backup.state if backup else None for _, backup in results])
    return {"id": parent.id, "status": {"success": "SUCCESSFUL", "partial": "PARTIAL", "failure": "FAILED"}[outcome],
            "outcome": outcome, "trigger": trigger_summary(parent).model_dump(mode="json", exclude_none=True),
            "completedAt": iso(max((c.completed_at for c, _ in results if c.completed_at), default=None)),
            "results": items}


class FanoutStep:
    def __init__(self, store: Store, clock: Clock, policy: DeliveryPolicy, batch: int = 200) -> None:
        self.store = store
        self.clock = clock
        self.policy = policy
        self.batch = batch

    def finish_ready(self) -> bool:
        """Finish every fan-out trigger whose children have all ended; True if more may wait."""
        parents = self.store.fanouts_ready(self.batch)
        for parent in parents:
            kids = self.store.children_of(parent.id)
            if len(kids) < len(parent.targets or []) or any(
                    k.state not in (TriggerState.DONE, TriggerState.SKIPPED) for k in kids):
                continue
            self._finish(parent, kids)
        return len(parents) >= self.batch

    def _finish(self, parent: Trigger, kids: list[Trigger]) -> None:
        backups = self.store.backups_by_id([k.backup_id for k in kids if k.backup_id])
        results = [(kid, backups.get(kid.backup_id or "")) for kid in kids]
        now = self.clock.now()
        parent.state, parent.completed_at = TriggerState.DONE, now
        body = fanout_document(parent, results)
        owed: list[Delivery] = []
        if parent.callback is not None:
            owed.append(Delivery(trigger_id=parent.id, event=DeliveryEvent.COMPLETED, target=parent.callback,
                                 body=body, created_at=now, next_attempt_at=now,
                                 give_up_at=now + timedelta(seconds=self.policy.budget_seconds)))
        note = f"Fan-out over {len(kids)} instances: {body['outcome']}."
        done = self.store.complete_triggers([parent.id], None, now, note, owed)
        if done:
            log.info("fan-out done", extra={"event": "trigger.fanout_done", "trigger_id": parent.id,
                                            "outcome": body["outcome"], "instances": len(kids)})


