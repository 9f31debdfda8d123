"""The Alertmanager ``webhook_config`` body (payload version "4"), parsed and validated.

Kept apart from the receiver's decisions so the wire format, which follows Alertmanager's
releases, changes in one place; ``webhook.sources.alertmanager`` re-exports these names.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from ..core.validation import parse_json, validate

StrMap = Annotated[dict[str, str], BeforeValidator(lambda v: {} if v is None else v)]


class AmAlert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: StrMap
    annotations: StrMap = Field(default_factory=dict)
    startsAt: str = Field("", max_length=64)
    endsAt: str = Field("", max_length=64)
    generatorURL: str = ""
    fingerprint: str | None = Field(None, max_length=64)  # always sent since Alertmanager 0.19

    def key(self) -> str:
        """The alert's fingerprint, or one derived from its labels when a sender left it out."""
        if self.fingerprint:
            return self.fingerprint
        canonical = "\x00".join(f"{k}\x01{v}" for k, v in sorted(self.labels.items()))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class AmNotification(BaseModel):
    """The webhook body. ``truncatedAlerts``, ``notification_reason`` and ``routeLabels`` are optional
    because they arrived in 0.21, 0.32 and 0.34; unknown keys are ignored for later versions."""

    model_config = ConfigDict(extra="ignore")

    version: str
    groupKey: str = Field(min_length=1, max_length=20_000)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    alerts: list[AmAlert]
    truncatedAlerts: int = Field(0, ge=0)
    groupLabels: StrMap = Field(default_factory=dict)
    commonLabels: StrMap = Field(default_factory=dict)
    commonAnnotations: StrMap = Field(default_factory=dict)
    externalURL: str = ""
    notification_reason: str | None = None
    routeLabels: StrMap | None = None

    @field_validator("version")
    @classmethod
    def _version_4(cls, version: str) -> str:
        if version != "4":
            raise ValueError(f'only webhook payload version "4" (Alertmanager 0.6 and later) is understood, '
                             f"not {version!r}")
        return version

    def firing(self) -> list[AmAlert]:
        return [a for a in self.alerts if a.status == "firing"]


def parse(body: bytes) -> AmNotification:
    """Bytes → notification, or ``InvalidRequest`` (400) saying what is wrong."""
    return validate(AmNotification, parse_json(body), what="Alertmanager notification")
