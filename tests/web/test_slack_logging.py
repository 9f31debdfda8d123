"""A new Slack backup request at the default INFO level logs and answers (a reserved logging key once made it 500)."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

import requests

from tests.support.node import InProcessNode


def test_slack_backup_request_at_info_level_is_acknowledged(make_settings, receiver):
    node = InProcessNode(make_settings(log_level="INFO", slack_signing_secret="s3cret",
                                       slack_response_hosts=[receiver.host])).start()
    try:
        body = urlencode({"team_id": "T1", "user_id": "U1", "user_name": "ops", "channel_id": "C1",
                          "command": "/vcf-backup", "text": "backup before patching",
                          "response_url": receiver.url("/slack"), "trigger_id": "tr-1"}).encode()
        ts = str(int(time.time()))
        signature = "v0=" + hmac.new(b"s3cret", f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
        answer = requests.post(node.url + "/hooks/slack", data=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature})
        assert answer.status_code == 200
        assert "trg_" in answer.json()["text"]
    finally:
        node.stop()
