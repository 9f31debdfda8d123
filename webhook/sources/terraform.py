"""HCP Terraform / Terraform Enterprise run tasks, and the Terraform-flavoured generic trigger.

Run task (``POST /hooks/terraform/run-task``): the raw body's ``X-TFC-Task-Signature`` (hex
HMAC-SHA512) is checked before the body is even parsed. HCP Terraform's test request
(``access_token`` "test-token") is answered and forgotten. A backup stage (``pre_apply`` by
default) becomes a Trigger whose callback PATCHes ``task_result_callback_url``: ``running``,
then ``passed``/``failed``, or ``failed`` at the deadline if the backup is still going (HCP
Terraform waits 10 minutes at most). Other stages and speculative plans get an immediate
``passed``, sent by the worker like any delivery, because HCP Terraform takes a task's status
only from that PATCH, never from the answer to its POST.

The access token is a credential: it is only sent to a host in ``VCFBACKUP_TFC_HOSTS``, never
logged (it is a ``SecretStr`` until it goes into the callback options), and the worker deletes it
from the store once the final status is out (``forget_after_final``).
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr

from ..core.callbacks import CallbackPolicy
from ..core.errors import InvalidRequest, Unauthenticated
from ..core.intake import Intake
from ..core.models import default_spec
from ..core.results import iso, trigger_summary
from ..core.triggers import CallbackTarget, Delivery, DeliveryEvent, Trigger, TriggerState
from ..core.validation import parse_json, validate
from . import generic
from .sections import Headers, secret

SOURCE = "terraform-run-task"
HOOK_SOURCE = "terraform"
KIND = "tfc_run_task"
SIGNATURE_HEADER = "X-TFC-Task-Signature"
VERIFICATION_TOKEN = "test-token"
STAGES = ("pre_plan", "post_plan", "pre_apply", "post_apply")
HCP_WAIT_SECONDS = 600.0  # "Terraform expects this callback within 10 minutes"
SECRET_OPTIONS = ("access_token",)


def signature(key: str, body: bytes) -> str:
    """The ``X-TFC-Task-Signature`` HCP Terraform sends for ``body``: lowercase hex HMAC-SHA512."""
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


def verify_signature(key: str | None, body: bytes, presented: str | None) -> None:
    """Raise ``Unauthenticated`` unless ``presented`` signs ``body``; with no key, refuse everything."""
    if not key:
        raise Unauthenticated(
            "No run task HMAC key is configured, so every run task request is refused.",
            remediation="Operators: set VCFBACKUP_TFC_HMAC_KEY to the HMAC key of the run task in HCP Terraform.")
    value = (presented or "").strip().lower()
    remediation = "Set the same HMAC key on the run task in HCP Terraform and in VCFBACKUP_TFC_HMAC_KEY."
    if not value:
        raise Unauthenticated(f"Missing {SIGNATURE_HEADER}: the run task has no HMAC key.", remediation=remediation)
    if not hmac.compare_digest(value.encode(), signature(key, body).encode()):
        raise Unauthenticated(f"{SIGNATURE_HEADER} does not match the body.", remediation=remediation)


class Capabilities(BaseModel):
    model_config = ConfigDict(extra="ignore")

    outcomes: bool | None = None


class RunTaskRequest(BaseModel):
    """The run task payload (version 1). Lenient: unknown keys are ignored, most keys may be absent."""

    model_config = ConfigDict(extra="ignore")

    payload_version: int | None = None
    access_token: SecretStr = SecretStr("")
    stage: str | None = None
    # Older docs and go-tfe spell it "capabilitites".
    capabilities: Capabilities | None = Field(None, validation_alias=AliasChoices("capabilities", "capabilitites"))
    is_speculative: bool | None = None
    organization_name: str | None = None
    workspace_id: str | None = None
    workspace_name: str | None = None
    workspace_app_url: str | None = None
    run_id: str | None = None
    run_app_url: str | None = None
    run_created_by: str | None = None
    run_message: str | None = None
    task_result_id: str | None = None
    task_result_callback_url: str | None = None
    task_result_enforcement_level: str | None = None
    vcs_commit_url: str | None = None
    workspace_tags: list[Any] | None = None  # not in every payload version; used for tag:<tag> mappings

    def tag_names(self) -> set[str]:
        names = set()
        for tag in self.workspace_tags or []:
            name = tag.get("name") if isinstance(tag, dict) else tag
            if isinstance(name, str):
                names.add(name)
        return names

    @property
    def is_verification(self) -> bool:
        """HCP Terraform's request when a run task is created: answer 200, start nothing."""
        return hmac.compare_digest(self.access_token.get_secret_value().encode(), VERIFICATION_TOKEN.encode())

    def missing(self) -> list[str]:
        required = ("stage", "organization_name", "task_result_id", "task_result_callback_url")
        gone = [name for name in required if not getattr(self, name)]
        return gone + ([] if self.access_token.get_secret_value() else ["access_token"])


def parse_run_task(body: bytes) -> RunTaskRequest:
    return validate(RunTaskRequest, parse_json(body), "run task request")


@dataclass(frozen=True)
class RunTaskConfig:
    """What the run task source needs from the settings."""

    hmac_key: str | None = field(default=None, repr=False)
    backup_stages: frozenset[str] = frozenset({"pre_apply"})
    hosts: tuple[str, ...] = ("app.terraform.io",)
    deadline: float = 540.0
    # workspace → instance, first match wins: (glob of the workspace name, or "tag:<tag>", instance)
    workspace_instances: tuple[tuple[str, str], ...] = ()

    def instance_for(self, run: RunTaskRequest) -> str | None:
        """The instance the run's workspace maps to (None: the service's default instance)."""
        for pattern, instance in self.workspace_instances:
            if pattern.startswith("tag:"):
                if pattern[4:] in run.tag_names():
                    return instance
            elif run.workspace_name and fnmatch.fnmatchcase(run.workspace_name, pattern):
                return instance
        return None

    def check_callback_url(self, url: str) -> str:
        """The URL if the access token may be sent there, else ``CallbackRefused`` saying why.

        https to a host in ``VCFBACKUP_TFC_HOSTS``; plain http only to a host:port written out
        exactly (no wildcard), a deliberate local stand-in, since HCP Terraform and TFE use https.
        """
        return _callback_policy(self.hosts).check(url)


@functools.lru_cache(maxsize=16)
def _callback_policy(hosts: tuple[str, ...]) -> CallbackPolicy:
    """Built once per allowlist, not on every request (building it cost more than checking the URL)."""
    return CallbackPolicy.exact_http(hosts, setting_name="VCFBACKUP_TFC_HOSTS", what="task_result_callback_url")


def configure(section: Mapping[str, Any], callbacks: CallbackPolicy) -> RunTaskConfig:
    """The ``tfc_*`` settings as the run task's config (its callbacks go only to ``hosts``)."""
    defaults = RunTaskConfig()
    return RunTaskConfig(
        hmac_key=secret(section, "hmac_key"),
        backup_stages=frozenset(section.get("backup_stages", defaults.backup_stages)),
        hosts=tuple(section.get("hosts", defaults.hosts)),
        deadline=section.get("deadline", defaults.deadline),
        workspace_instances=workspace_instances(section.get("workspace_instances") or ()),
    )


def workspace_instances(entries: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """``pattern=instance`` entries (VCFBACKUP_TFC_WORKSPACE_INSTANCES) as pairs; ValueError names a bad one."""
    pairs = []
    for entry in entries:
        pattern, sep, instance = entry.rpartition("=")
        if not sep or not pattern.strip() or not instance.strip():
            raise ValueError(f"VCFBACKUP_TFC_WORKSPACE_INSTANCES: {entry!r} is not pattern=instance "
                             "(e.g. prod-eu-*=eu-west or tag:region-us=us-east)")
        pairs.append((pattern.strip(), instance.strip()))
    return tuple(pairs)


def skip_reason(run: RunTaskRequest, config: RunTaskConfig) -> str | None:
    """Why this request needs no backup (it passes at once), or None."""
    if run.is_speculative:
        return "Speculative plan: nothing will be applied, so no backup is taken."
    if run.stage not in config.backup_stages:
        return (f"No backup at the {run.stage} stage; this service takes one at "
                f"{', '.join(sorted(config.backup_stages))}.")
    return None


def to_trigger(run: RunTaskRequest, config: RunTaskConfig, *, received_at: datetime,
               status_url: Callable[[str], str]) -> Trigger:
    context = {
        "organization": run.organization_name, "workspace": run.workspace_name, "workspaceId": run.workspace_id,
        "runId": run.run_id, "runUrl": run.run_app_url, "stage": run.stage, "createdBy": run.run_created_by,
        "isSpeculative": bool(run.is_speculative), "enforcementLevel": run.task_result_enforcement_level,
        "taskResultId": run.task_result_id, "vcsCommitUrl": run.vcs_commit_url,
        "runMessage": (run.run_message or "")[:500] or None,
    }
    reason = f"HCP Terraform run {run.run_id or '?'} ({run.stage}) in {run.organization_name}/{run.workspace_name}"
    if run.run_message:
        reason = f"{reason}: {run.run_message}"[:500]
    trigger = Trigger(
        source=SOURCE, caller=f"tfc:{run.organization_name}", spec=default_spec(), reason=reason,
        dedupe_key=run.task_result_id, context={k: v for k, v in context.items() if v is not None},
        received_at=received_at, target=config.instance_for(run),
    )
    trigger.callback = CallbackTarget(kind=KIND, url=run.task_result_callback_url or "", options={
        "access_token": run.access_token.get_secret_value(),
        "deadline": iso(received_at + timedelta(seconds=config.deadline)),
        "expires_at": iso(received_at + timedelta(seconds=HCP_WAIT_SECONDS)),
        "status_url": status_url(trigger.id),
        "forget_after_final": list(SECRET_OPTIONS),
    })
    return trigger


def deadline_note(seconds: float) -> str:
    return (f"The backup did not end within {_human(seconds)} of the run task request. HCP Terraform waits at "
            "most 10 minutes for the final status, so this task fails now rather than leave the run hanging; "
            "the backup itself goes on.")


def intake(run: RunTaskRequest, config: RunTaskConfig, *, received_at: datetime,
           status_url: Callable[[str], str]) -> Intake:
    """The request's trigger (idempotent on task_result_id) and what it owes HCP Terraform.

    Raises ``InvalidRequest`` or ``CallbackRefused`` before anything is stored.
    """
    missing = run.missing()
    if missing:
        raise InvalidRequest(f"The run task request lacks {', '.join(missing)}.",
                             remediation="Send the run task payload (version 1) as HCP Terraform does.")
    config.check_callback_url(run.task_result_callback_url or "")
    trigger = to_trigger(run, config, received_at=received_at, status_url=status_url)
    reason = skip_reason(run, config)
    if reason is not None:
        trigger.note = reason
        # The "passed" result describes the trigger as stored: skipped, and finished when it came.
        trigger.state, trigger.completed_at = TriggerState.SKIPPED, trigger.received_at
        return Intake.skip(trigger, reason, owed=[_owed(trigger, DeliveryEvent.COMPLETED, "passed",
                                                        {"runTask": {"status": "passed", "message": reason}},
                                                        at=trigger.received_at)])
    # The deadline delivery is stored with the trigger (one transaction), so a retried request finds
    # both or neither.
    due = trigger.received_at + timedelta(seconds=config.deadline)
    return Intake.accept(trigger, owed=[_owed(trigger, DeliveryEvent.DEADLINE, "deadline",
                                              {"note": deadline_note(config.deadline)}, at=due)])


def _owed(trigger: Trigger, event: DeliveryEvent, name: str, body: dict[str, Any], *, at: datetime) -> Delivery:
    """A delivery with an id derived from the trigger, so a retried request cannot owe it twice."""
    assert trigger.callback is not None
    return Delivery(
        id=f"dlv_{trigger.id.removeprefix('trg_')}_{name}", trigger_id=trigger.id, event=event,
        target=trigger.callback, body={**body, "trigger": trigger_summary(trigger).model_dump(mode="json")},
        created_at=trigger.received_at,
        next_attempt_at=at, give_up_at=trigger.received_at + timedelta(seconds=HCP_WAIT_SECONDS),
    )


def _human(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    if not minutes:
        return f"{seconds:g} s"
    return f"{minutes} min" + (f" {rest} s" if rest else "")


# ---------------------------------------------------------------- POST /hooks/terraform
class TerraformTriggerBody(generic.GenericTriggerBody):
    """The generic trigger's fields plus where in Terraform the ask comes from (for the audit trail)."""

    workspace: str | None = Field(None, min_length=1, max_length=200)
    runId: str | None = Field(None, min_length=1, max_length=200)
    moduleAddress: str | None = Field(None, min_length=1, max_length=500)


def parse_hook_body(body: bytes) -> TerraformTriggerBody:
    data: Any = parse_json(body) if body.strip() else {}
    return validate(TerraformTriggerBody, data)


def hook_intake(body: TerraformTriggerBody, *, caller: str, received_at: datetime,
                headers: Headers) -> Intake:
    return Intake.accept(hook_trigger(body, caller=caller, received_at=received_at, headers=headers))


def hook_trigger(body: TerraformTriggerBody, *, caller: str, received_at: datetime,
                 headers: Headers) -> Trigger:
    context = {"workspace": body.workspace, "runId": body.runId, "moduleAddress": body.moduleAddress}
    trigger = generic.to_trigger(body, caller=caller, received_at=received_at, headers=headers,
                                 source=HOOK_SOURCE, context={k: v for k, v in context.items() if v})
    if not trigger.reason:
        where = ", ".join(f"{k} {v}" for k, v in context.items() if v)
        trigger.reason = "Terraform pre-change backup" + (f" ({where})" if where else "")
    return trigger
