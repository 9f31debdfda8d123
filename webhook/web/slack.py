"""``POST /hooks/slack``: the Request URL of the Slack app's ``/vcf-backup`` slash command.

Slack gives 3 s for the answer, so this path only verifies, reads the store and commits a
trigger; it never calls SDDC Manager (the worker posts the start and the result to
``response_url``). A request that fails verification gets a 401 Error body and touches nothing.
"""

from __future__ import annotations

import logging

import slack_sdk.signature  # noqa: F401 - loaded with the web side, not on the first request (sources.slack loads it late)
from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from ..core.errors import CallbackRefused, InvalidRequest, NotFound
from ..sources import slack
from ..sources import slack_messages as messages
from . import openapi
from .context import web
from .inbound import raw_body
from .responses import json_response

log = logging.getLogger("webhook.web.slack")

bp = Blueprint("slack", __name__)


def reply(message: messages.Message) -> ResponseReturnValue:
    return json_response(message)


@bp.post("/hooks/slack")
def slash_command() -> ResponseReturnValue:
    ctx = web()
    config = ctx.source_config(slack.SOURCE, slack.SlackConfig)
    body = raw_body()  # the exact bytes, read before anything could parse the form
    slack.verify_request(config.signing_secret, body, request.headers, ctx.service.clock.now().timestamp())
    if request.headers.get("X-Slack-Retry-Num"):
        return reply(messages.retry_ignored())
    command = slack.parse_form(body)
    if not slack.is_allowed(config, command):
        log.warning("slack command refused", extra={
            "event": "slack.refused", "team_id": command.team_id, "channel_id": command.channel_id,
            "user_id": command.user_id, "user_name": command.user_name})
        return reply(messages.refused(command.user_id))
    fleet = ctx.service.fleet
    asked = slack.parse_fleet_command(command.text, fleet.names)
    if asked.name == "help":
        return reply(messages.help_text(command.command, asked.unknown))
    if asked.name == "status":
        if asked.argument is None and len(fleet.names) > 1:
            return reply(messages.fleet_status(ctx.service.instances()))
        return reply(_status(asked.argument))
    if asked.target == slack.ALL and not slack.is_admin(config, command):
        log.warning("slack fan-out refused", extra={"event": "slack.refused_all", "team_id": command.team_id,
                                                    "user_id": command.user_id})
        return reply(messages.problem("Only the admins (VCFBACKUP_SLACK_ADMINS) may back up every instance "
                                      f"at once; name one: {', '.join(fleet.names)}."))
    return reply(_backup(command, asked.argument, config, asked.target))


def _status(trigger_id: str | None) -> messages.Message:
    service = web().service
    if trigger_id is None:
        view = service.latest()
        if view is None:
            return messages.no_triggers()
    else:
        try:
            view = service.view(trigger_id)
        except NotFound:
            return messages.problem(f"There is no trigger with id {trigger_id}.")
    return messages.status(view, service.clock.now())


def _backup(command: slack.SlashCommand, reason: str | None, config: slack.SlackConfig,
            target: str | None = None) -> messages.Message:
    service = web().service
    try:
        intake = slack.intake(command, reason, config=config, received_at=service.clock.now(), target=target)
        intake.audit = {"hook": "slack.requested", "team_id": command.team_id, "channel_id": command.channel_id,
                        "user_id": command.user_id, "user_name": command.user_name}
        receipt = service.take(intake)  # writes the request's one audit line
    except (CallbackRefused, InvalidRequest) as exc:
        log.warning("slack command not actionable", extra={
            "event": "slack.rejected", "team_id": command.team_id, "user_id": command.user_id, "error": exc.message})
        return messages.problem(exc.message)
    return messages.requested(receipt.trigger.id, created=receipt.created, command=command.command,
                              riding=receipt.riding, now=service.clock.now())


OPENAPI = openapi.Described({
    "/hooks/slack": {
        "post": openapi.operation(
            "Slack slash command (signed with the app's signing secret)",
            {"200": {"description": "Ephemeral Slack message (JSON)"}, **openapi.errors(400, 401, 413, 503)},
            security=[{"slackSignature": []}], tag="sources",
            body={"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
                "type": "object", "properties": {k: {"type": "string"} for k in (
                    "team_id", "user_id", "user_name", "channel_id", "command", "text", "response_url",
                    "trigger_id")}}}}}),
    },
})
