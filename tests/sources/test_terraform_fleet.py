"""HCP Terraform run tasks in a fleet: the workspace (by name pattern or tag) names the instance."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from webhook.core.callbacks import CallbackPolicy, HostAllowlist
from webhook.sources import terraform

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def run(workspace: str, tags: list | None = None) -> terraform.RunTaskRequest:
    return terraform.RunTaskRequest.model_validate({
        "payload_version": 1, "access_token": "tok", "stage": "pre_apply", "organization_name": "acme",
        "workspace_name": workspace, "task_result_id": f"taskrs-{workspace}",
        "task_result_callback_url": "https://app.terraform.io/api/v2/task-results/x/callback",
        **({"workspace_tags": tags} if tags is not None else {})})


def config(*entries: str) -> terraform.RunTaskConfig:
    return terraform.configure({"workspace_instances": list(entries)}, CallbackPolicy(HostAllowlist.of([])))


def test_the_first_matching_pattern_or_tag_names_the_instance():
    mapped = config("prod-eu-*=eu-west", "tag:region-us=us-east")
    assert mapped.instance_for(run("prod-eu-network")) == "eu-west"
    assert mapped.instance_for(run("anything", tags=[{"name": "region-us"}])) == "us-east"
    assert mapped.instance_for(run("anything", tags=["region-us"])) == "us-east"
    assert mapped.instance_for(run("dev-sandbox")) is None
    trigger = terraform.to_trigger(run("prod-eu-dns"), mapped, received_at=NOW, status_url=lambda i: f"/x/{i}")
    assert trigger.target == "eu-west"


def test_a_mapping_without_an_instance_is_refused_at_start():
    with pytest.raises(ValueError, match="pattern=instance"):
        config("prod-eu-*")
