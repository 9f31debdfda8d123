"""One shape for what any source asks of the service, so every blueprint ends in the same call.

A source turns its request into an ``Intake``; ``TriggerService.take`` stores it (accepted or
knowingly skipped, with the deliveries it owes from the start, in one transaction) and wakes a
worker when there is work. Sources build intakes; only the service stores them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .triggers import Delivery, Trigger


@dataclass
class Intake:
    """A trigger to accept, or to record as SKIPPED with ``skip_reason``, plus what it owes."""

    trigger: Trigger
    skip_reason: str | None = None  # set: record the trigger SKIPPED with this note; start no backup
    skip_label: str = "skipped"  # a short, low-cardinality label for metrics
    owed: Sequence[Delivery] = ()  # deliveries owed from the start, stored with the trigger
    # A target the fleet does not know: "reject" answers 400 (a caller who can fix it), "skip" records
    # the trigger SKIPPED with the reason (a sender that would only retry, such as Alertmanager).
    unknown_target: str = "reject"
    route_hint: str | None = None  # what the source read the target from, for the refusal's note
    # What the way in adds to the request's one audit line (the service writes it: event, trigger id,
    # source, caller, outcome); keys the line already has are the service's.
    audit: Mapping[str, object] | None = None
    # Name the backup already running in the answer (Slack's ephemeral ack): the trigger then owes no
    # "started" message when it rides that backup. Only where the answer reaches the same audience.
    announce_running: bool = False

    @property
    def skipped(self) -> bool:
        return self.skip_reason is not None

    @classmethod
    def accept(cls, trigger: Trigger, owed: Sequence[Delivery] = ()) -> Intake:
        return cls(trigger, owed=owed)

    @classmethod
    def skip(cls, trigger: Trigger, reason: str, *, owed: Sequence[Delivery] = (), label: str = "skipped") -> Intake:
        return cls(trigger, skip_reason=reason, skip_label=label, owed=owed)
