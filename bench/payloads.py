"""The requests the bench sends: one builder per way in, each request unique where the protocol dedupes.

A request is ``(header values, body)`` for a fixed list of header names, so the same pool feeds wrk
(through a Lua script reading a file) and the Python load generator. Alertmanager, Slack and run
task requests each carry their own group key / trigger_id / task_result_id, because a repeated one
would be answered from the store as a duplicate (a cheaper path than a new durable trigger). Slack
signatures carry a timestamp that must be within 5 minutes: pools are built right before each run.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

API_TOKEN = "bench-api-token-0123456789"
ALERTMANAGER_TOKEN = "bench-alertmanager-token-0123456789"
SLACK_SECRET = "bench-slack-signing-secret-0123456789"
TFC_KEY = "bench-tfc-hmac-key-0123456789"
PEER_TOKEN = API_TOKEN
BODY_BYTES = 400  # the reference figures used a 400-byte JSON POST

Row = tuple[list[str], bytes]
CallbackOf = Callable[[int], str] | None


@dataclass(frozen=True)
class Endpoint:
    """One way in: where it is, which module serves it, how to build its n-th request."""

    name: str
    path: str
    module: str
    header_names: tuple[str, ...]
    build: Callable[[int, str, CallbackOf], Row]
    unique: bool  # True: every request must differ (the protocol dedupes repeats)

    def available(self) -> bool:
        return importlib.util.find_spec(self.module) is not None

    def rows(self, count: int, tag: str, callback_of: CallbackOf = None) -> Iterator[Row]:
        for i in range(count):
            yield self.build(i, tag, callback_of)


def _padded(doc: dict[str, object], size: int = BODY_BYTES) -> bytes:
    body = json.dumps(doc, separators=(",", ":"))
    missing = size - len(body) - len(',"reason":""')
    if missing > 0 and "reason" not in doc:
        doc = {**doc, "reason": "bench " + "x" * (missing - 6)}
        body = json.dumps(doc, separators=(",", ":"))
    return body.encode()


def generic_row(i: int, tag: str, callback_of: CallbackOf) -> Row:
    doc: dict[str, object] = {"elements": [{"resourceType": "SDDC_MANAGER"}]}
    if callback_of is not None:
        doc["callbackUrl"] = callback_of(i)
    return [f"Bearer {API_TOKEN}", "application/json"], _padded(doc)


def alertmanager_row(i: int, tag: str, callback_of: CallbackOf) -> Row:
    labels = {"alertname": f"BenchAlert{i}", "cluster": "vcf-mgmt-01", "severity": "critical",
              "vcf_backup": "true", "bench": tag}
    annotations = {"summary": f"bench alert {i}"}
    if callback_of is not None:
        annotations["backup_callback_url"] = callback_of(i)
    fingerprint = hashlib.sha256(f"{tag}:{i}".encode()).hexdigest()[:16]
    doc = {
        "receiver": "vcf-backup", "status": "firing", "version": "4",
        "groupKey": f'{{}}/{{vcf_backup="true"}}:{{alertname="BenchAlert{i}", bench="{tag}"}}',
        "alerts": [{"status": "firing", "labels": labels, "annotations": annotations,
                    "startsAt": "2026-11-27T03:36:41.960766397Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus.example.com/graph", "fingerprint": fingerprint}],
        "groupLabels": {"alertname": f"BenchAlert{i}"}, "commonLabels": labels, "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.com:9093", "truncatedAlerts": 0,
    }
    return [f"Bearer {ALERTMANAGER_TOKEN}", "application/json"], json.dumps(doc, separators=(",", ":")).encode()


def slack_row(i: int, tag: str, callback_of: CallbackOf) -> Row:
    trigger_id = f"{tag}.{i}"
    body = urlencode({
        "token": "x", "team_id": "TBENCH", "team_domain": "bench", "channel_id": "CBENCH", "channel_name": "ops",
        "user_id": "UBENCH", "user_name": "bench", "command": "/vcf-backup", "text": f"backup bench {i}",
        "api_app_id": "ABENCH", "trigger_id": trigger_id,
        "response_url": callback_of(i) if callback_of else f"https://hooks.slack.com/commands/TBENCH/{i}/x",
    }).encode()
    timestamp = str(int(time.time()))
    digest = hmac.new(SLACK_SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return ["application/x-www-form-urlencoded", timestamp, f"v0={digest}"], body


def terraform_row(i: int, tag: str, callback_of: CallbackOf) -> Row:
    doc = {
        "payload_version": 1, "access_token": f"bench-access-token-{i}", "stage": "pre_apply",
        "capabilities": {"outcomes": True}, "is_speculative": False, "organization_name": "bench-org",
        "workspace_id": "ws-bench", "workspace_name": "bench-ws", "run_id": f"run-{tag}-{i}",
        "run_created_by": "bench", "run_message": "bench apply", "task_result_id": f"taskrs-{tag}-{i}",
        "task_result_enforcement_level": "mandatory",
        "task_result_callback_url": callback_of(i) if callback_of else "https://app.terraform.io/api/v2/x",
    }
    body = json.dumps(doc, separators=(",", ":")).encode()
    digest = hmac.new(TFC_KEY.encode(), body, hashlib.sha512).hexdigest()
    return ["application/json", digest], body


GENERIC = Endpoint("POST /v1/triggers", "/v1/triggers", "webhook.web.triggers",
                   ("Authorization", "Content-Type"), generic_row, unique=False)
ALERTMANAGER = Endpoint("POST /hooks/alertmanager", "/hooks/alertmanager", "webhook.web.alertmanager",
                        ("Authorization", "Content-Type"), alertmanager_row, unique=True)
SLACK = Endpoint("POST /hooks/slack", "/hooks/slack", "webhook.web.slack",
                 ("Content-Type", "X-Slack-Request-Timestamp", "X-Slack-Signature"), slack_row, unique=True)
TERRAFORM = Endpoint("POST /hooks/terraform/run-task", "/hooks/terraform/run-task", "webhook.web.terraform",
                     ("Content-Type", "X-TFC-Task-Signature"), terraform_row, unique=True)
# The generic trigger with Terraform context (workspace, run id) for the audit trail: the same body and token.
TERRAFORM_HOOK = Endpoint("POST /hooks/terraform", "/hooks/terraform", "webhook.web.terraform",
                          ("Authorization", "Content-Type"), generic_row, unique=False)
ENDPOINTS = (GENERIC, TERRAFORM_HOOK, ALERTMANAGER, SLACK, TERRAFORM)
# One way in per source for the storm (the four sources of issue 17).
STORM_ENDPOINTS = (GENERIC, ALERTMANAGER, SLACK, TERRAFORM)
