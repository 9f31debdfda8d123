"""The fleet file (``VCFBACKUP_SDDC_MANAGERS_FILE``): named SDDC Manager instances, validated at start.

YAML for ``.yaml``/``.yml``, TOML for ``.toml``, read by pydantic-settings' own sources, so the file
is parsed one way whatever reads it. Secrets never live in the file: an instance names a
``password_file`` (a Docker or Kubernetes secret) or a ``password_env`` variable. A bad file stops
the start with one line per bad entry (``instances[2] (eu-west).url: ...``). ``FleetSettings`` holds
the fleet's ``VCFBACKUP_*`` fields, a mixin of ``Settings``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

from .setting_types import CommaList, split_list

NAME = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,38}[a-z0-9])?$")
RESERVED = frozenset({"all", "status", "help", "default-instance"})  # words of the Slack command


class InstanceSettings(BaseModel):
    """One SDDC Manager of the fleet."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Lower-case letters, digits, '.', '_', '-'; at most 40 characters")
    url: str = Field(description="SDDC Manager base URL, https://...")
    username: str = ""
    password_file: str | None = Field(None, description="File holding the password (a mounted secret)")
    password_env: str | None = Field(None, description="Environment variable holding the password")
    ca_bundle: str | None = None
    verify_tls: bool = True
    labels: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secret(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise ValueError("a password never goes in the fleet file: use password_file or password_env")
        return data

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not NAME.match(value) or value in RESERVED:
            raise ValueError(f"{value!r} is not a usable instance name (lower-case letters, digits, '.', '_', '-', "
                             f"at most 40 characters; not {', '.join(sorted(RESERVED))})")
        return value

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a simulator)")
        return value.rstrip("/")

    @field_validator("labels", mode="before")
    @classmethod
    def _labels_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}
        return value

    def password(self) -> str:
        if self.password_file:
            try:
                return Path(self.password_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"instance {self.name}: password_file {self.password_file} cannot be read: "
                                 f"{exc.strerror}") from None
        if self.password_env:
            return os.environ.get(self.password_env, "")
        return ""

    def tls_verify(self) -> bool | str:
        if not self.verify_tls:
            return False
        return self.ca_bundle or True


class FleetFile(BaseSettings):
    """The file's top level: ``instances`` (a list). Built only by ``load_fleet_file``."""

    model_config = SettingsConfigDict(extra="forbid")

    instances: list[InstanceSettings] = Field(min_length=1)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def _file_source(path: Path) -> PydanticBaseSettingsSource:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return YamlConfigSettingsSource(FleetFile, yaml_file=path)
    if suffix == ".toml":
        return TomlConfigSettingsSource(FleetFile, toml_file=path)
    raise ValueError(f"VCFBACKUP_SDDC_MANAGERS_FILE {path}: use .yaml, .yml or .toml")


def load_fleet_file(path_text: str) -> list[InstanceSettings]:
    """The instances of the fleet file, or ValueError with one line per bad entry."""
    path = Path(path_text)
    if not path.is_file():
        raise ValueError(f"VCFBACKUP_SDDC_MANAGERS_FILE names {path_text}, which is not a readable file")
    try:
        data = _file_source(path)()
    except ValueError:
        raise
    except Exception as exc:  # a YAML or TOML syntax error: say where, not a traceback
        raise ValueError(f"VCFBACKUP_SDDC_MANAGERS_FILE {path_text} cannot be parsed: {exc}") from None
    try:
        fleet = FleetFile(**data)
    except ValidationError as exc:
        raise ValueError(f"VCFBACKUP_SDDC_MANAGERS_FILE {path_text} has bad entries:\n"
                         + "\n".join(_problems(exc, data))) from None
    seen: set[str] = set()
    for instance in fleet.instances:
        if instance.name in seen:
            raise ValueError(f"VCFBACKUP_SDDC_MANAGERS_FILE {path_text}: instance name {instance.name!r} "
                             "appears twice")
        seen.add(instance.name)
    return fleet.instances


def _problems(exc: ValidationError, data: dict[str, Any]) -> list[str]:
    lines = []
    listed = data.get("instances")
    entries: list[Any] = listed if isinstance(listed, list) else []
    for error in exc.errors(include_url=False, include_input=False):
        loc = list(error["loc"])
        where = ".".join(str(part) for part in loc) or "(top level)"
        if len(loc) >= 2 and loc[0] == "instances" and isinstance(loc[1], int):
            entry = entries[loc[1]] if loc[1] < len(entries) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            rest = ".".join(str(part) for part in loc[2:])
            where = f"instances[{loc[1]}]" + (f" ({name})" if name else "") + (f".{rest}" if rest else "")
        lines.append(f"  {where}: {error['msg']}")
    return lines


class FleetSettings(BaseModel):
    """The fleet's fields of ``Settings`` (a mixin): where the instances are listed and how triggers pick one."""

    sddc_managers_file: str | None = Field(
        None, description="Fleet file (YAML .yaml/.yml or TOML .toml) listing named SDDC Manager instances; "
                          "the VCFBACKUP_SDDC_* variables, when VCFBACKUP_SDDC_URL is set, add one named default")
    default_instance: str | None = Field(
        None, description="Instance a trigger that names no target goes to (default: `default`, or the only one)")
    instance_threads: int = Field(16, ge=1, le=256, description="Instances the worker submits to and polls at "
                                                                "once, each on its own thread")
    alertmanager_instance_label: str = Field(
        "vcf_instance", description="Alert label (in the group's common labels) naming the target instance")
    alertmanager_default_instance: str | None = Field(
        None, description="Instance for an alert group without the instance label (unset: such a group is "
                          "refused, with the reason in the log and the audit trail)")
    slack_admins: CommaList = Field(default_factory=list,
                                    description="Slack user ids allowed `/vcf-backup all <reason>` (empty: nobody)")
    tfc_workspace_instances: CommaList = Field(
        default_factory=list, description="HCP Terraform workspace → instance, as pattern=instance pairs: "
                                          "a workspace name glob (prod-eu-*=eu-west) or tag:<tag>=instance")

    @field_validator("slack_admins", "tfc_workspace_instances", mode="before")
    @classmethod
    def _parse_fleet_lists(cls, value: object) -> object:
        return split_list(value)

    @field_validator("sddc_managers_file")
    @classmethod
    def _check_fleet_file(cls, value: str | None) -> str | None:
        if value:
            load_fleet_file(value)  # validated at start: one line per bad entry
        return value
