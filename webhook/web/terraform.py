"""Terraform's ways in: ``POST /hooks/terraform/run-task`` (HCP Terraform / TFE) and ``POST /hooks/terraform``.

The run task answers 200 as soon as the trigger and what it owes HCP Terraform are stored; the
worker starts the backup and PATCHes the results. Nothing here calls SDDC Manager. A request that
fails the signature check gets a 401 Error body and touches nothing; neither does one whose
callback host is not allowed (400). Any non-200 makes HCP Terraform retry, which is safe: the
task_result_id makes the retry land on the same trigger.
"""

from __future__ import annotations

import logging

from flask import Blueprint, request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, Field

from ..core.results import TriggerStatus
from ..sources import terraform
from ..sources.auth import caller_of_token
from . import openapi
from .context import web
from .inbound import raw_body, require_json, status_url, wait_seconds
from .responses import json_response
from .triggers import view_response

log = logging.getLogger("webhook.web.terraform")

bp = Blueprint("terraform", __name__)


class RunTaskAnswer(BaseModel):
    """The 200 HCP Terraform gets (it only looks at the status code; the body helps a person)."""

    triggerId: str | None = None
    state: str = Field(description="ACCEPTED (a backup is coming), ATTACHED (it rides the one already under way), "
                                   "SKIPPED (passes at once) or verified")
    note: str | None = Field(None, description="Why the run task passes without a backup")
    duplicate: bool | None = Field(None, description="True when this task_result_id was seen before")
    statusUrl: str | None = None


@bp.post("/hooks/terraform/run-task")
def run_task() -> ResponseReturnValue:
    ctx = web()
    config = ctx.source_config("terraform", terraform.RunTaskConfig)
    body = raw_body()
    terraform.verify_signature(config.hmac_key, body, request.headers.get(terraform.SIGNATURE_HEADER))
    require_json()
    run = terraform.parse_run_task(body)
    if run.is_verification:
        log.info("run task verified", extra={"event": "tfc.verification", "organization": run.organization_name})
        return json_response(RunTaskAnswer(state="verified").model_dump(exclude_none=True))
    intake = terraform.intake(run, config, received_at=ctx.service.clock.now(), status_url=status_url)
    intake.audit = {"hook": "tfc.run_task", "organization": run.organization_name, "workspace": run.workspace_name,
                    "run_id": run.run_id, "stage": run.stage, "task_result_id": run.task_result_id}
    receipt = ctx.service.take(intake)  # writes the request's one audit line
    trigger = receipt.trigger
    answer = RunTaskAnswer(triggerId=trigger.id, state=trigger.state.value, note=trigger.note,
                           duplicate=not receipt.created, statusUrl=status_url(trigger.id))
    return json_response(answer.model_dump(exclude_none=True))


@bp.post("/hooks/terraform")
def terraform_hook() -> ResponseReturnValue:
    """The generic trigger plus Terraform context (workspace, runId, moduleAddress) for the audit trail."""
    caller = caller_of_token(request.headers.get("Authorization"), web().api_tokens)
    require_json()
    body = terraform.parse_hook_body(raw_body())
    wait = wait_seconds()  # the whole request is valid before anything is stored
    service = web().service
    intake = terraform.hook_intake(body, caller=caller, received_at=service.clock.now(), headers=request.headers)
    receipt = service.take(intake)
    view = service.receipt_view(receipt, wait)
    return view_response(view, created=receipt.created, waited=True)


OPENAPI = openapi.Described({
    "/hooks/terraform/run-task": {
        "post": openapi.operation(
            "HCP Terraform / TFE run task (HMAC-SHA512 signed); results PATCHed to task_result_callback_url",
            {"200": openapi.json_body(RunTaskAnswer, "Stored (the backup and callbacks follow), passed at once, "
                                                     "or verified"), **openapi.errors(400, 401, 413, 415, 503)},
            security=[{"tfcSignature": []}], tag="sources",
            body={"required": True,
                  "content": {"application/json": {"schema": openapi.ref(terraform.RunTaskRequest)}}}),
    },
    "/hooks/terraform": {
        "post": openapi.operation(
            "Ask for a backup with Terraform context (workspace, runId, moduleAddress) for the audit trail",
            {"200": openapi.json_body(TriggerStatus, "Finished (with ?wait)"),
             "202": openapi.json_body(TriggerStatus, "Accepted / still running"),
             **openapi.errors(400, 401, 413, 415, 503)},
            security=openapi.BEARER, parameters=[openapi.WAIT], tag="sources",
            body={"required": False,
                  "content": {"application/json": {"schema": openapi.ref(terraform.TerraformTriggerBody)}}}),
    },
}, models=(terraform.RunTaskRequest, terraform.TerraformTriggerBody, RunTaskAnswer))
