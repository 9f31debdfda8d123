"""Settings of the Alertmanager, Slack and HCP Terraform sources (read by their ``configure``).

A mixin composed into ``Settings``: the fields and their checks live here, the environment
variable names (``VCFBACKUP_ALERTMANAGER_*``, ``VCFBACKUP_SLACK_*``, ``VCFBACKUP_TFC_*``) stay the same.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator

from .setting_types import CommaList, Duration, split_list
from .sources.matchers import parse_matchers


class SourceSettings(BaseModel):
    """Alertmanager / Slack / Terraform run task fields; ``Settings`` reads them from the environment."""

    alertmanager_token: SecretStr | None = Field(None, description="Bearer token Alertmanager sends")
    alertmanager_username: str | None = Field(None, description="Basic-auth user Alertmanager sends")
    alertmanager_password: SecretStr | None = Field(None, description="Basic-auth password Alertmanager sends")
    alertmanager_matchers: str = Field(
        "", description='Label matchers an alert must meet to start a backup, Prometheus syntax, comma-separated, '
                        'e.g. vcf_backup="true",severity=~"crit.*" (default: every firing alert)')
    alertmanager_elements_key: str = Field(
        "backup_elements", description="Alert label or annotation naming the backup elements "
                                       "(e.g. SDDC_MANAGER; default SDDC_MANAGER when absent)")
    alertmanager_cooldown: Duration = Field(
        3600.0, description="The same alert group with the same firing alerts starts no new backup for this long "
                            "(0 = no cooldown)")
    alertmanager_callback_url: str | None = Field(
        None, description="Where Alertmanager-triggered results are sent (an alert's backup_callback_url "
                          "annotation wins); must pass the callback allowlist")
    alertmanager_max_body_bytes: int = Field(
        4 * 1024 * 1024, description="Largest Alertmanager notification accepted (bytes); "
                                     "a 1,000-alert notification is about 0.7 MB")
    slack_signing_secret: SecretStr | None = Field(None, description="Slack app signing secret")
    slack_allowed_teams: CommaList = Field(
        default_factory=list, description="Slack team (workspace) ids allowed to use the slash command; "
                                          "empty allows all")
    slack_allowed_channels: CommaList = Field(
        default_factory=list, description="Slack channel ids the slash command may be used in; empty allows all")
    slack_allowed_users: CommaList = Field(
        default_factory=list, description="Slack user ids allowed to use the slash command; empty allows all")
    slack_response_hosts: CommaList = Field(
        default_factory=lambda: ["hooks.slack.com"],
        description="Hosts (host or host:port) Slack's response_url may point to; "
                    "plain http only to an exact host:port entry")
    slack_response_type: str = Field(
        "ephemeral", description="Slack result messages: ephemeral (only the asker sees them) or in_channel")
    tfc_hmac_key: SecretStr | None = Field(None, description="HCP Terraform run task HMAC key")
    tfc_hosts: CommaList = Field(
        default_factory=lambda: ["app.terraform.io"],
        description="HCP Terraform / TFE hosts (host or host:port) a run task's callback URL may point to; "
                    "plain http only to an exact host:port entry")
    tfc_backup_stages: CommaList = Field(
        default_factory=lambda: ["pre_apply"],
        description="Run task stages that start a backup (pre_plan, post_plan, pre_apply, post_apply); "
                    "other stages and speculative plans pass at once")
    tfc_deadline: Duration = Field(
        540.0, description="Report a run task failed if its backup has not ended this long after the request "
                           "(HCP Terraform waits at most 10m)")

    @field_validator("alertmanager_matchers")
    @classmethod
    def _check_matchers(cls, value: str) -> str:
        parse_matchers(value)  # raises ValueError naming the position that is wrong
        return value

    @field_validator("slack_allowed_teams", "slack_allowed_channels", "slack_allowed_users", "slack_response_hosts",
                     mode="before")
    @classmethod
    def _parse_slack_lists(cls, value: object) -> object:
        return split_list(value)

    @field_validator("tfc_hosts", "tfc_backup_stages", mode="before")
    @classmethod
    def _parse_tfc_lists(cls, value: object) -> object:
        return split_list(value)

    @field_validator("tfc_backup_stages")
    @classmethod
    def _check_tfc_stages(cls, value: list[str]) -> list[str]:
        unknown = [stage for stage in value if stage not in ("pre_plan", "post_plan", "pre_apply", "post_apply")]
        if unknown:
            raise ValueError(f"unknown stage {unknown[0]!r} (use pre_plan, post_plan, pre_apply, post_apply)")
        return value

    @field_validator("tfc_deadline")
    @classmethod
    def _check_tfc_deadline(cls, value: float) -> float:
        if not 0 < value < 600:
            raise ValueError("must be more than 0 and less than 10m: HCP Terraform waits at most 10 minutes "
                             "for a run task's final status")
        return value

    @field_validator("slack_response_type")
    @classmethod
    def _check_slack_response_type(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("ephemeral", "in_channel"):
            raise ValueError("must be ephemeral or in_channel")
        return value
