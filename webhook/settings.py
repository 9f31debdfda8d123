"""Settings: environment variables prefixed ``VCFBACKUP_`` (the only module that reads the environment).

An optional TOML file (``VCFBACKUP_CONFIG_FILE``, keys are the setting names in lower case without
the prefix) fills in what the environment leaves unset: the environment always wins.

Every secret also has a ``VCFBACKUP_<NAME>_FILE`` variant that names a file holding it (Docker and
Kubernetes secrets), and secrets are ``SecretStr``: they print as ``**********`` by construction.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, cast

from pydantic import Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .core.fleet import DEFAULT, Fleet, Instance
from .fleet_settings import FleetSettings, InstanceSettings, load_fleet_file
from .setting_types import CommaList, Duration, split_list
from .source_settings import SourceSettings

PREFIX = "VCFBACKUP_"


class FileSecretsSource(PydanticBaseSettingsSource):
    """``VCFBACKUP_<NAME>_FILE=/run/secrets/x`` → the field ``<name>`` from that file's text."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        path = os.environ.get(f"{PREFIX}{field_name.upper()}_FILE")
        if not path:
            return None, field_name, False
        try:
            return Path(path).read_text(encoding="utf-8").strip(), field_name, False
        except OSError as exc:
            raise ValueError(f"{PREFIX}{field_name.upper()}_FILE names {path}, which cannot be read: "
                             f"{exc.strerror}") from None

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            if name in SECRET_FIELDS:
                value, key, _ = self.get_field_value(field, name)
                if value is not None:
                    found[key] = value
        return found


SECRET_FIELDS = frozenset({
    "sddc_password", "api_tokens", "callback_signing_secret", "alertmanager_token", "alertmanager_password",
    "slack_signing_secret", "tfc_hmac_key", "ui_tokens", "ui_secret",
})


class ServiceSettings(BaseSettings):
    """The service's own fields (SDDC Manager, store, auth, callbacks, worker, web): first in the table."""

    # SDDC Manager
    sddc_url: str = Field("", description="SDDC Manager base URL, e.g. https://sddc-manager.example.com")
    sddc_username: str = Field("", description="SDDC Manager user (needs a role that may start backups)")
    sddc_password: SecretStr | None = Field(None, description="SDDC Manager password (secret; _FILE variant)")
    sddc_ca_bundle: str | None = Field(None, description="CA bundle file to verify SDDC Manager's TLS certificate")
    sddc_verify_tls: bool = Field(True, description="Verify SDDC Manager's TLS certificate (keep on in production)")
    sddc_connect_timeout: Duration = Field(5.0, description="Connect timeout for SDDC Manager calls")
    sddc_read_timeout: Duration = Field(30.0, description="Read timeout for SDDC Manager calls")

    # Store
    database_url: str = Field("sqlite:///vcf-backup-webhook.db",
                              description="SQLAlchemy URL: sqlite:///path (default) or postgresql+psycopg://...")
    sqlite_synchronous: str = Field("FULL", description="SQLite synchronous mode (FULL: fsync before every 2xx)")

    # Inbound authentication
    api_tokens: Annotated[dict[str, SecretStr], NoDecode] = Field(
        default_factory=dict, description="Bearer tokens for /v1/triggers as name:token pairs, comma-separated")
    max_body_bytes: int = Field(1_048_576, description="Largest request body accepted (bytes)")
    max_wait: Duration = Field(300.0, description="Longest ?wait= a caller may ask for")

    # Callbacks
    callback_allowed_hosts: CommaList = Field(default_factory=list,
                                              description="Hosts (host or host:port, *.example.com) callbacks "
                                                          "may go to")
    callback_allow_http: bool = Field(False, description="Allow plain-http callback URLs")
    callback_signing_secret: SecretStr | None = Field(
        None, description="Standard Webhooks secret (whsec_<base64>) used to sign callbacks")
    callback_budget: Duration = Field(6 * 3600.0, description="How long to keep retrying a callback")
    callback_timeout: Duration = Field(15.0, description="Timeout of one callback attempt")

    # Worker
    poll_interval: Duration = Field(2.0, description="First interval between task polls (grows with the backup's age)")
    poll_max_interval: Duration = Field(30.0, description="Longest interval between task polls")
    backup_timeout: Duration = Field(3 * 3600.0, description="Give up waiting for a backup after this (TIMED_OUT)")
    worker_lease: Duration = Field(60.0, description="Lease a worker holds on a backup or delivery it works on")
    retention: Duration = Field(90 * 86400.0, description="Finished triggers, backups and deliveries older "
                                                          "than this are pruned from the store")
    worker_stale_after: Duration = Field(60.0, description="/readyz fails when no worker has beaten for this long")
    worker_nice: int = Field(10, ge=0, le=19, description="Niceness `serve` gives its worker loop: under a storm the "
                                                          "CPU acknowledges triggers first, the worker catches up")

    # Web
    host: str = Field("127.0.0.1", description="Address `serve` listens on")
    port: int = Field(8080, description="Port `serve` listens on")
    # One process by default: a host's SQLite commits are serialised anyway, and one process lets
    # group commit batch all of them (two processes queue for the file lock in turn: 18-35 % fewer
    # acknowledgements at 64 connections in the bench). With PostgreSQL, more processes can pay off.
    web_workers: int = Field(1, description="gunicorn worker processes (with SQLite one batches every commit; "
                                            "with PostgreSQL more may help)")
    # Ten, not sixteen: one process runs Python on one core at a time, so more threads only interleave
    # more requests at once and stretch each one. Measured on a saturated node (docs/performance.md,
    # "The twelfth pass"): p99 at 64 connections about a quarter lower than with sixteen, nearly as low
    # as with eight, whose smaller group commits cost some of the rate at 16 connections. A slow sender
    # never holds a thread (gunicorn_worker), and ?wait= callers may hold half of them.
    web_threads: int = Field(10, ge=1, le=256,
                             description="Threads per gunicorn worker (waiting callers hold one)")
    public_url: str | None = Field(None, description="Base URL of this service as callers see it (for status links)")
    log_level: str = Field("INFO", description="Log level")
    metrics_dir: str | None = Field(None, description="Directory for multi-process metrics (serve sets it)")
    web_read_timeout: Duration = Field(
        10.0, description="A request's headers and body must arrive within this; slower senders are dropped "
                          "(they never hold a request thread while they send)")
    max_waiters: int = Field(
        0, ge=0, description="Callers that may hold a request thread with ?wait= at once, per web process; more "
                             "get the current state at once (0: half of VCFBACKUP_WEB_THREADS)")

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _parse_tokens(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        tokens: dict[str, str] = {}
        for pair in cast(list[str], split_list(value)):
            name, sep, token = pair.partition(":")
            if not sep or not name.strip() or not token.strip():
                raise ValueError("VCFBACKUP_API_TOKENS must be name:token pairs separated by commas "
                                 "(the entry without a name or token was left out of this message)")
            tokens[name.strip()] = token.strip()
        return tokens

    @field_validator("callback_allowed_hosts", mode="before")
    @classmethod
    def _parse_list(cls, value: object) -> object:
        return split_list(value)


# Field order follows the reversed MRO (ServiceSettings, SourceSettings, FleetSettings, then the
# status page fields below), which keeps the README's configuration table in its historical order.
class Settings(FleetSettings, SourceSettings, ServiceSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", validate_default=True)

    # Status page (/ui/)
    ui_tokens: Annotated[dict[str, SecretStr], NoDecode] = Field(
        default_factory=dict, description="Tokens for the status page /ui/ as name:token pairs, comma-separated "
                                          "(default: the API tokens)")
    ui_secret: SecretStr | None = Field(
        None, description="Key that signs status page login cookies (default: a random key per start, so a "
                          "restart logs everyone out)")
    ui_proxy_user_header: str | None = Field(
        None, description="Header a reverse proxy sets to the user it authenticated (e.g. X-Forwarded-User); "
                          "only set it when the proxy strips that header from clients")
    ui_session_lifetime: Duration = Field(12 * 3600.0, description="How long a status page login lasts")
    sddc_probe_interval: Duration = Field(
        60.0, description="An idle worker checks SDDC Manager answers this often, for the status page and "
                          "vcfbackup_sddc_manager_up (0 = only when it has work)")

    @field_validator("ui_tokens", mode="before")
    @classmethod
    def _parse_ui_tokens(cls, value: object) -> object:
        try:
            return cls._parse_tokens(value)
        except ValueError:
            raise ValueError("VCFBACKUP_UI_TOKENS must be name:token pairs separated by commas") from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, FileSecretsSource(settings_cls)]
        config_file = os.environ.get(f"{PREFIX}CONFIG_FILE")
        if config_file:
            if not Path(config_file).is_file():
                raise ValueError(f"{PREFIX}CONFIG_FILE names {config_file}, which is not a readable file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return (*sources, dotenv_settings)

    def fleet_instances(self) -> list[InstanceSettings]:
        """Every configured instance: ``default`` from the single-instance variables, then the fleet file's."""
        found: list[InstanceSettings] = []
        if self.sddc_url or not self.sddc_managers_file:
            found.append(InstanceSettings.model_construct(
                name=DEFAULT, url=self.sddc_url, username=self.sddc_username, password_file=None, password_env=None,
                ca_bundle=self.sddc_ca_bundle, verify_tls=self.sddc_verify_tls, labels={}))
        if self.sddc_managers_file:
            listed = load_fleet_file(self.sddc_managers_file)
            if found and any(i.name == DEFAULT for i in listed):
                raise ValueError("the fleet file names an instance 'default' and VCFBACKUP_SDDC_URL defines one too")
            found.extend(listed)
        return found

    def fleet(self) -> Fleet:
        return Fleet([Instance(i.name, dict(i.labels), i.url) for i in self.fleet_instances()],
                     default=self.default_instance)

    def sddc_password_value(self) -> str:
        return self.sddc_password.get_secret_value() if self.sddc_password else ""

    def tls_verify(self) -> bool | str:
        if not self.sddc_verify_tls:
            return False
        return self.sddc_ca_bundle or True


class TriggerClientSettings(BaseSettings):
    """What the ``trigger`` and ``tf-status`` commands read, so URL and token stay off command lines."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    trigger_url: str | None = Field(None, description="Base URL of the service for the trigger client")
    trigger_token: SecretStr | None = Field(None, description="API token for the trigger client")
    trigger_ca_bundle: str | None = Field(None, description="CA bundle to verify the service's TLS certificate")


def settings_reference() -> str:
    """The README's configuration table, generated so it cannot drift from this module."""
    lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if name in SECRET_FIELDS:
            shown = "(secret; also `_FILE`)"
        elif default in (None, "", [], {}):
            shown = "(none)"
        else:
            shown = f"`{default}`"
        lines.append(f"| `{PREFIX}{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(lines)
