"""Slack message builders: pure functions from result documents to Block Kit + text."""

from __future__ import annotations

import pytest

from webhook.sources import slack_messages as messages

FAILED = {
    "id": "task-9", "status": "FAILED", "outcome": "failure",
    "startedAt": "2026-01-05T10:00:00Z", "completedAt": "2026-01-05T11:02:00Z",
    "resources": [{"type": "SDDC_MANAGER", "name": "sddc", "fqdn": "sddc.example.com"}],
    "errors": [{"errorCode": "SFTP_FAILED", "message": "SFTP <unreachable> & down",
                "remediationMessage": "Check port 22."}],
    "trigger": {"id": "trg_9", "reason": "pre-upgrade"},
}


def test_failure_message_carries_sddc_managers_message_and_remediation():
    message = messages.ended(FAILED, {"user_id": "U1"})
    assert message["text"] == ("Backup FAILED: SDDC Manager task task-9, 1 h 02 min. "
                               "SFTP &lt;unreachable&gt; &amp; down. Remediation: Check port 22.")
    assert message["blocks"][0]["text"]["text"] == ":x: Backup FAILED"
    error = message["blocks"][2]["text"]["text"]
    assert "*SFTP_FAILED*" in error and "&lt;unreachable&gt; &amp; down" in error and "Check port 22." in error
    fields = " ".join(f["text"] for f in message["blocks"][1]["fields"])
    assert "SDDC_MANAGER sddc (sddc.example.com)" in fields and "1 h 02 min" in fields
    assert message["blocks"][-1] == {"type": "context", "elements": [{"type": "mrkdwn",
                                                                      "text": "Requested by <@U1>."}]}


def test_success_message_shows_no_errors_and_a_start_message_names_the_task():
    ok = messages.ended({**FAILED, "status": "SUCCESSFUL", "outcome": "success"}, {})
    assert ok["text"] == "Backup SUCCESSFUL: SDDC Manager task task-9, 1 h 02 min"
    assert not any(":warning:" in str(block) for block in ok["blocks"])
    started = messages.for_delivery("backup.started", {"id": "task-9", "trigger": {"id": "trg_9"}}, {})
    assert started["text"] == "Backup started: SDDC Manager task task-9, trigger trg_9."


def test_long_texts_are_clipped_to_slacks_block_limits():
    huge = {**FAILED, "errors": [{"message": "x" * 10_000, "remediationMessage": "y" * 10_000}] * 5,
            "trigger": {"id": "trg_9", "reason": "r" * 5000}}
    message = messages.ended(huge, {})
    for block in message["blocks"]:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
        for field in block.get("fields", []):
            assert len(field["text"]) <= 2000
    assert len(message["text"]) <= 3000
    assert len(message["blocks"]) <= 50


@pytest.mark.parametrize(("seconds", "shown"), [(0, "0 s"), (59.6, "1 min 00 s"), (185, "3 min 05 s"),
                                                (3720, "1 h 02 min")])
def test_durations_read_naturally(seconds, shown):
    assert messages.duration(seconds) == shown


def test_help_names_the_command_the_app_was_given():
    assert "`/backup-vcf status [trigger-id]`" in messages.help_text("/backup-vcf")["text"]


def test_the_ack_of_a_request_that_joins_a_running_backup_names_its_task_and_age():
    from datetime import UTC, datetime, timedelta

    from webhook.core.views import RunningBackup

    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    running = RunningBackup(id="bkp_1", sddc_task_id="task-<7>", spec_key="k",
                            submitted_at=now - timedelta(seconds=150))
    joined = messages.requested("trg_1", created=True, command="/vcf-backup", riding=running, now=now)
    assert "joins the backup already running" in joined["text"] and "task-&lt;7&gt;" in joined["text"]
    assert "started 2 min 30 s ago" in joined["text"] and joined["response_type"] == "ephemeral"
    plain = messages.requested("trg_1", created=True, command="/vcf-backup")
    assert "joins" not in plain["text"] and "Backup requested (trigger `trg_1`)" in plain["text"]
