"""The seed's models (SDDC Manager API) and the one place task statuses are normalised.

Field names are the API's camelCase JSON names. Parsing is lenient: unknown keys are kept
(later API versions add ``label``, ``remediationUrl``, ``notifications``) and enum-like fields
are plain strings, because VCF versions disagree on their values.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ApiModel(BaseModel):
    """Base for API models: keep unknown keys, dump without unset optionals."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class ErrorCause(ApiModel):
    message: str | None = None
    type: str | None = None


class Error(ApiModel):
    """SDDC Manager's Error body; also the body of every 4xx/5xx this service answers."""

    errorCode: str | None = None
    errorType: str | None = None
    message: str | None = None
    remediationMessage: str | None = None
    referenceToken: str | None = None
    arguments: list[str] | None = None
    causes: list[ErrorCause] | None = None
    context: dict[str, Any] | None = None
    nestedErrors: list[Error] | None = None


class BackupResource(ApiModel):
    resourceType: str = Field(min_length=1)


class BackupSpec(ApiModel):
    elements: list[BackupResource] = Field(min_length=1)

    def key(self) -> str:
        """A canonical key: two specs with the same elements share one backup."""
        return ",".join(sorted({e.resourceType for e in self.elements}))


class Resource(ApiModel):
    resourceId: str | None = None
    type: str | None = None
    fqdn: str | None = None
    name: str | None = None
    sans: list[str] | None = None


class BackupTask(ApiModel):
    id: str | None = None
    name: str | None = None
    status: str | None = None
    resources: list[Resource] | None = None
    errors: list[Error] | None = None


class Stage(ApiModel):
    name: str | None = None
    status: str | None = None
    errors: list[Error] | None = None


class SubTask(ApiModel):
    name: str | None = None
    status: str | None = None
    errors: list[Error] | None = None
    stages: list[Stage] | None = None
    subTasks: list[SubTask] | None = None


class Task(ApiModel):
    """``GET /v1/tasks/{id}``; its status spelling varies by version (see ``TaskStatus``)."""

    id: str
    name: str | None = None
    status: str = ""
    type: str | None = None
    creationTimestamp: str | None = None
    completionTimestamp: str | None = None
    errors: list[Error] | None = None
    resources: list[Resource] | None = None
    subTasks: list[SubTask] | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _status_as_text(cls, value: object) -> object:
        return "" if value is None else value

    @property
    def normalized_status(self) -> TaskStatus:
        return TaskStatus.parse(self.status)

    def all_errors(self) -> list[Error]:
        """Errors of the task, its subtasks and their stages: where SDDC Manager puts the cause."""
        found: list[Error] = list(self.errors or [])

        def walk(subtasks: list[SubTask] | None) -> None:
            for sub in subtasks or []:
                found.extend(sub.errors or [])
                for stage in sub.stages or []:
                    found.extend(stage.errors or [])
                walk(sub.subTasks)

        walk(self.subTasks)
        unique: list[Error] = []
        for err in found:
            if err not in unique:
                unique.append(err)
        return unique


class TaskStatus(str, Enum):
    """SDDC Manager task statuses, normalised from both spellings (``In Progress``/``IN_PROGRESS``)."""

    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCESSFUL = "SUCCESSFUL"
    COMPLETED_WITH_WARNING = "COMPLETED_WITH_WARNING"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, raw: str | None) -> TaskStatus:
        text = (raw or "").strip().upper().replace(" ", "_").replace("-", "_")
        if text == "CANCELED":
            text = "CANCELLED"
        try:
            return cls(text)
        except ValueError:
            return cls.UNKNOWN

    @property
    def is_terminal(self) -> bool:
        return self.is_success or self.is_failure

    @property
    def is_success(self) -> bool:
        return self in (TaskStatus.SUCCESSFUL, TaskStatus.COMPLETED_WITH_WARNING)

    @property
    def is_failure(self) -> bool:
        # SKIPPED is ambiguous in the docs; a backup that was skipped did not protect anything.
        return self in (TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.SKIPPED)


Error.model_rebuild()
SubTask.model_rebuild()


def default_spec() -> BackupSpec:
    """What a trigger that names no elements backs up: SDDC Manager itself."""
    return BackupSpec(elements=[BackupResource(resourceType="SDDC_MANAGER")])
