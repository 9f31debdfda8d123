"""A Slack command while a backup runs: its ack names that backup, and no separate start post follows
(unless the posts go to the channel, which the ephemeral ack does not reach)."""

from __future__ import annotations

import time

from webhook.core.service import RUNNING_FRESH_SECONDS

from tests.flows.test_slack_flow import (
    SLACK_SECRET,
    command,
    ended_posts,
    settled_deliveries,
    trigger_id_in,
)
from tests.support.node import InProcessNode


def _run_first_backup(node, receiver, simulator) -> str:
    """One command, and its backup running at SDDC Manager (its start posted): that task's id."""
    simulator.state.update_config(backup_seconds=2.0)
    command(node, receiver, "backup", response_path="/commands/T100/first")
    [started] = receiver.wait_for(1)
    assert started.json()["text"].startswith("Backup started")
    time.sleep(RUNNING_FRESH_SECONDS)  # the node trusts its read of the running backup (none, then) this long
    return simulator.state.task_views()[0]["id"]


def test_a_command_while_a_backup_runs_is_told_in_its_ack_and_gets_no_separate_start_post(
        make_settings, simulator, receiver):
    node = InProcessNode(make_settings(slack_signing_secret=SLACK_SECRET, slack_response_hosts=[receiver.host])).start()
    try:
        task_id = _run_first_backup(node, receiver, simulator)
        ack = command(node, receiver, "backup", user="U_LATE", response_path="/commands/T100/late")
        assert ack.status_code == 200 and ack.json()["response_type"] == "ephemeral"
        assert "joins the backup already running" in ack.json()["text"] and task_id in ack.json()["text"]
        late = trigger_id_in(ack)

        ends = ended_posts(receiver, 2)
        assert set(ends) == {"/commands/T100/first", "/commands/T100/late"}
        assert task_id in ends["/commands/T100/late"]["text"]
        assert [p.path for p in receiver.received].count("/commands/T100/late") == 1  # the result only
        deliveries = settled_deliveries(node, late, 1)
        assert [(d.event.value, d.state.value) for d in deliveries] == [("backup.completed", "DELIVERED")]
        assert simulator.state.backups_started == 1
    finally:
        node.stop()


def test_with_in_channel_posts_a_command_while_a_backup_runs_still_gets_its_start_post(
        make_settings, simulator, receiver):
    node = InProcessNode(make_settings(slack_signing_secret=SLACK_SECRET, slack_response_hosts=[receiver.host],
                                       slack_response_type="in_channel")).start()
    try:
        task_id = _run_first_backup(node, receiver, simulator)
        ack = command(node, receiver, "backup", response_path="/commands/T100/late")
        assert "joins" not in ack.json()["text"]  # the ephemeral ack does not reach the channel
        ends = ended_posts(receiver, 2)
    finally:
        node.stop()
    late = [p.json() for p in receiver.received if p.path == "/commands/T100/late"]
    assert [m["text"].split(":")[0] for m in late] == ["Backup started", "Backup SUCCESSFUL"]
    assert task_id in late[0]["text"] and set(ends) == {"/commands/T100/first", "/commands/T100/late"}
