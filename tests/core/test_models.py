from __future__ import annotations

import pytest

from webhook.core.models import BackupSpec, Error, Task, TaskStatus


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("IN_PROGRESS", TaskStatus.IN_PROGRESS), ("In Progress", TaskStatus.IN_PROGRESS),
        ("SUCCESSFUL", TaskStatus.SUCCESSFUL), ("Successful", TaskStatus.SUCCESSFUL),
        ("FAILED", TaskStatus.FAILED), ("Failed", TaskStatus.FAILED), ("Cancelled", TaskStatus.CANCELLED),
        ("COMPLETED_WITH_WARNING", TaskStatus.COMPLETED_WITH_WARNING), ("Pending", TaskStatus.PENDING),
        ("Something New", TaskStatus.UNKNOWN), (None, TaskStatus.UNKNOWN),
    ],
)
def test_status_is_normalised_from_both_spellings(raw, expected):
    assert TaskStatus.parse(raw) is expected


def test_success_and_failure_sets():
    assert TaskStatus.SUCCESSFUL.is_success and TaskStatus.COMPLETED_WITH_WARNING.is_success
    assert TaskStatus.FAILED.is_failure and TaskStatus.CANCELLED.is_failure
    assert not TaskStatus.IN_PROGRESS.is_terminal and not TaskStatus.PENDING.is_terminal
    assert not TaskStatus.UNKNOWN.is_terminal


def test_task_parses_leniently_and_keeps_unknown_keys():
    task = Task.model_validate({
        "id": "t1", "name": "backup", "status": "Failed", "creationTimestamp": "2026-01-01T00:00:00.000Z",
        "isRetryable": True, "futureField": {"x": 1},
        "errors": [{"errorCode": "E1", "message": "top", "label": "new in 9.0", "notifications": []}],
        "subTasks": [{"name": "s", "status": "FAILED", "errors": [{"message": "sub"}],
                      "stages": [{"name": "st", "errors": [{"message": "stage", "remediationMessage": "fix"}]}]}],
    })
    assert task.normalized_status is TaskStatus.FAILED
    assert task.model_dump()["futureField"] == {"x": 1}
    assert [e.message for e in task.all_errors()] == ["top", "sub", "stage"]
    assert task.all_errors()[0].model_dump()["label"] == "new in 9.0"


def test_backup_spec_requires_elements_and_has_canonical_key():
    spec = BackupSpec.model_validate({"elements": [{"resourceType": "SDDC_MANAGER"}, {"resourceType": "SDDC_MANAGER"}]})
    assert spec.key() == "SDDC_MANAGER"
    with pytest.raises(ValueError):
        BackupSpec.model_validate({"elements": []})


def test_error_model_uses_seed_field_names():
    error = Error(errorCode="X", message="m", remediationMessage="r", referenceToken="T")
    assert error.to_json_dict() == {"errorCode": "X", "message": "m", "remediationMessage": "r", "referenceToken": "T"}
