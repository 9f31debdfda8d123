"""The generic JSON trigger (scripts, CI, the ``trigger`` CLI): body + headers → Trigger."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from ..core.durations import parse_bounded_duration
from ..core.intake import Intake
from ..core.models import BackupResource, BackupSpec, default_spec
from ..core.triggers import CallbackTarget, Trigger
from ..core.validation import KNOWN_RESOURCE_TYPES, parse_json, validate
from .sections import Headers

SOURCE = "generic"
__all__ = ["SOURCE", "GenericTriggerBody", "default_spec", "intake", "parse_body", "to_trigger"]


class GenericTriggerBody(BaseModel):
    """Strict on purpose: a misspelt ``callbackURL`` must be an error, not a silently lost callback."""

    model_config = ConfigDict(extra="forbid")

    elements: list[BackupResource] | None = Field(None, min_length=1)
    callbackUrl: str | None = Field(None, max_length=2000)
    reason: str | None = Field(None, max_length=2000)
    idempotencyKey: str | None = Field(None, min_length=1, max_length=200)
    reuseIfNewerThan: Annotated[
        float | None, BeforeValidator(lambda v: None if v is None else parse_bounded_duration(v))] = None
    target: str | None = Field(None, min_length=1, max_length=40,
                               description="The SDDC Manager instance to back up, by name (GET /v1/instances)")
    selector: dict[str, Annotated[str, Field(max_length=200)]] | None = Field(
        None, max_length=20, description="Back up every instance whose labels carry all of these ({} = every "
                                         "instance): one backup per instance, one callback with every result")

    @field_validator("elements")
    @classmethod
    def _known_types(cls, elements: list[BackupResource] | None) -> list[BackupResource] | None:
        for element in elements or []:
            if element.resourceType not in KNOWN_RESOURCE_TYPES:
                raise ValueError(f"resourceType {element.resourceType!r} is not supported "
                                 f"(supported: {', '.join(sorted(KNOWN_RESOURCE_TYPES))})")
        return elements

    def spec(self) -> BackupSpec:
        return BackupSpec(elements=self.elements) if self.elements else default_spec()


def parse_body(body: bytes) -> GenericTriggerBody:
    data: Any = parse_json(body) if body.strip() else {}
    return validate(GenericTriggerBody, data)


def intake(request: GenericTriggerBody, *, caller: str, received_at: datetime, headers: Headers) -> Intake:
    """The generic trigger as the service's intake: always accepted (the service coalesces)."""
    return Intake.accept(to_trigger(request, caller=caller, received_at=received_at, headers=headers))


def to_trigger(
    request: GenericTriggerBody,
    *,
    caller: str,
    received_at: datetime,
    headers: Headers,
    source: str = SOURCE,
    context: dict[str, Any] | None = None,
) -> Trigger:
    key = request.idempotencyKey or headers.get("Idempotency-Key") or None
    return Trigger(
        source=source,
        caller=caller,
        spec=request.spec(),
        reason=request.reason,
        dedupe_key=key,
        callback=CallbackTarget(kind="webhook", url=request.callbackUrl) if request.callbackUrl else None,
        reuse_if_newer_than=request.reuseIfNewerThan,
        received_at=received_at,
        context=context or {},
        target=request.target,
        selector=request.selector,
    )
