"""The provider's schema: every argument and attribute with its description, in one place.

Terraform gets it through ``GetProviderSchema``; ``docs.py`` renders the Registry docs from it, so
the docs cannot say what the provider does not do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tf import schema, types  # type: ignore[import-untyped]

from ..http import ELEMENT_TYPES, ENV_CA_BUNDLE, ENV_TOKEN, ENV_URL

DEFAULT_ELEMENTS = ["SDDC_MANAGER"]
DEFAULT_TIMEOUT = "1h"
DEFAULT_REQUEST_TIMEOUT = "30s"


class ObjectType(types.TfType):  # type: ignore[misc]
    """A cty object type (``tf`` ships only primitives, lists, sets and maps)."""

    def __init__(self, attributes: dict[str, Any]) -> None:
        self.attributes = attributes

    def encode(self, value: Any) -> Any:
        return value

    def decode(self, value: Any) -> Any:
        return value

    def tf_type(self) -> bytes:
        fields = {name: json.loads(kind.tf_type()) for name, kind in self.attributes.items()}
        return json.dumps(["object", fields], separators=(",", ":"), sort_keys=True).encode()


RESOURCE_ENTRY = ObjectType({"type": types.String(), "fqdn": types.String(), "resource_id": types.String()})


@dataclass(frozen=True)
class Doc:
    """What the docs say about a schema beyond its attributes."""

    title: str
    summary: str


def provider_schema() -> schema.Schema:
    return schema.Schema(version=0, description="Takes and checks SDDC Manager backups through vcf-backup-webhook.",
                         attributes=[
        schema.Attribute("endpoint", types.String(), optional=True, description=(
            f"Base URL of vcf-backup-webhook, e.g. `https://vcf-backup.example.com` (http or https). "
            f"Default: the `{ENV_URL}` environment variable.")),
        schema.Attribute("token", types.String(), optional=True, sensitive=True, description=(
            f"API token of the service (one of its `VCFBACKUP_API_TOKENS`). Default: `{ENV_TOKEN}`; prefer the "
            "environment variable, so the token never enters the configuration. Never written to the state, "
            "logs or diagnostics.")),
        schema.Attribute("ca_bundle", types.String(), optional=True, description=(
            f"CA bundle file to verify the service's TLS certificate. Default: `{ENV_CA_BUNDLE}`, else the "
            "system's CAs.")),
        schema.Attribute("request_timeout", types.String(), optional=True, description=(
            f"How long one HTTP request to the service may take, as a duration (`30s`, `2m`). Default: "
            f"`{DEFAULT_REQUEST_TIMEOUT}`.")),
    ])


def backup_schema() -> schema.Schema:
    elements = ", ".join(f"`{e}`" for e in ELEMENT_TYPES)
    return schema.Schema(version=0, description=(
        "An SDDC Manager backup taken when this resource is created or replaced, and waited for."), attributes=[
        schema.Attribute("triggers", types.Map(types.String()), optional=True, requires_replace=True, description=(
            "Any map of strings; when it changes, the resource is replaced and a new backup is taken, exactly "
            "like `terraform_data`'s `triggers_replace`. Typically a hash of the configuration the backup "
            "protects. Stored in the state in plain text: never put a secret in it.")),
        schema.Attribute("reason", types.String(), optional=True, description=(
            "Why the backup is taken; the service's audit trail shows it. Changing it updates the state only "
            "(no new backup).")),
        schema.Attribute("elements", types.List(types.String()), optional=True, computed=True,
                         requires_replace=True, default=list(DEFAULT_ELEMENTS), description=(
            f"Resource types to back up (BackupSpec elements): {elements}. Default `{json.dumps(DEFAULT_ELEMENTS)}`. "
            "A change takes a new backup.")),
        schema.Attribute("reuse_if_newer_than", types.String(), optional=True, description=(
            "Accept a SUCCESSFUL backup that ended this recently instead of taking a new one, as a duration "
            "(`15m`, `1h`). Unset: always a new backup. Changing it takes no backup.")),
        schema.Attribute("callback_url", types.String(), optional=True, description=(
            "Absolute http(s) URL where the service also posts the signed result; it must be on the service's "
            "callback allowlist. Changing it takes no backup.")),
        schema.Attribute("target", types.String(), optional=True, requires_replace=True, description=(
            "The SDDC Manager instance to back up, by name, when the service backs up a fleet "
            "(`GET /v1/instances` lists them). Unset: the service's default instance. A change takes a new "
            "backup; an unknown name fails the apply with the known names.")),
        schema.Attribute("timeout", types.String(), optional=True, computed=True, default=DEFAULT_TIMEOUT,
                         description=(
            f"How long the apply waits for the backup to end, as a duration. Default `{DEFAULT_TIMEOUT}`. When it "
            "runs out the apply fails (the backup goes on; its status URL is in the error). Changing it takes no "
            "backup.")),
        schema.Attribute("id", types.String(), computed=True, description=(
            "The service's trigger id; `terraform import` takes it.")),
        schema.Attribute("backup_id", types.String(), computed=True, description="The service's backup id."),
        schema.Attribute("sddc_task_id", types.String(), computed=True, description=(
            "SDDC Manager's task id of the backup.")),
        schema.Attribute("status", types.String(), computed=True, description=(
            "The backup's final status: `SUCCESSFUL` (anything else fails the apply).")),
        schema.Attribute("started_at", types.String(), computed=True, description="When the backup started (UTC)."),
        schema.Attribute("completed_at", types.String(), computed=True, description="When it ended (UTC)."),
        schema.Attribute("resources", types.List(RESOURCE_ENTRY), computed=True, description=(
            "Each resource backed up: `type`, `fqdn`, `resource_id`.")),
    ])


def latest_backup_schema() -> schema.Schema:
    return schema.Schema(version=0, description=(
        "The latest SUCCESSFUL backup the service knows of. Read-only: reading it never starts a backup."),
        attributes=[
        schema.Attribute("elements", types.List(types.String()), optional=True, description=(
            f"Only backups of exactly these resource types. Default `{json.dumps(DEFAULT_ELEMENTS)}`.")),
        schema.Attribute("status", types.String(), computed=True, description=(
            "`SUCCESSFUL`, or `NONE` when the service has recorded no successful backup yet (then the other "
            "attributes are null).")),
        schema.Attribute("backup_id", types.String(), computed=True, description="The service's backup id."),
        schema.Attribute("sddc_task_id", types.String(), computed=True, description="SDDC Manager's task id."),
        schema.Attribute("started_at", types.String(), computed=True, description="When it started (UTC)."),
        schema.Attribute("completed_at", types.String(), computed=True, description="When it ended (UTC)."),
        schema.Attribute("age_seconds", types.Number(), computed=True, description=(
            "Seconds since it ended, by the service's clock: the value a freshness `precondition` compares.")),
    ])


DOCS = {
    "provider": Doc("vcfbackup Provider", (
        "Takes SDDC Manager backups from Terraform through vcf-backup-webhook: a `vcfbackup_backup` resource "
        "that other resources `depends_on`, and a `vcfbackup_latest_backup` data source for freshness checks.")),
    "backup": Doc("vcfbackup_backup (Resource)", (
        "Takes an SDDC Manager backup when created or replaced (`POST /v1/triggers` with an idempotency key, then "
        "waits for the end). A backup that does not end SUCCESSFUL fails the apply with SDDC Manager's message "
        "and remediation and the trigger's status URL, so nothing that `depends_on` it is changed. Destroying it "
        "only forgets it: a backup is never deleted.")),
    "latest_backup": Doc("vcfbackup_latest_backup (Data Source)", (
        "The latest SUCCESSFUL backup (`GET /v1/backups/latest`), so a plan can carry a freshness "
        "`precondition`. No side effects.")),
}
