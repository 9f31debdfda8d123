"""The fleet file: YAML or TOML through pydantic-settings' sources, validated at start, one line per bad entry."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from webhook.app import build_sddc_clients
from webhook.settings import Settings

YAML = """
instances:
  - name: eu-west
    url: https://sddc-manager.eu-west.example.com/
    username: svc-backup@vsphere.local
    password_file: {secret}
    labels: {{region: eu-west, env: prod}}
  - name: us-east
    url: https://sddc-manager.us-east.example.com
    password_env: US_EAST_PASSWORD
    verify_tls: false
    labels: {{region: us-east, env: prod}}
"""

TOML = """
[[instances]]
name = "eu-west"
url = "https://sddc-manager.eu-west.example.com"
password_file = "{secret}"
labels = {{ region = "eu-west" }}
"""


def test_yaml_fleet_with_secrets_in_files_and_the_environment(tmp_path, monkeypatch):
    secret = tmp_path / "eu-west.secret"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("US_EAST_PASSWORD", "from-the-env")
    path = tmp_path / "fleet.yaml"
    path.write_text(YAML.format(secret=secret))
    settings = Settings(sddc_managers_file=str(path))
    instances = {i.name: i for i in settings.fleet_instances()}
    assert list(instances) == ["eu-west", "us-east"]  # no VCFBACKUP_SDDC_URL: no "default"
    assert instances["eu-west"].url == "https://sddc-manager.eu-west.example.com"
    assert instances["eu-west"].password() == "from-a-file" and instances["us-east"].password() == "from-the-env"
    assert instances["us-east"].tls_verify() is False
    assert settings.fleet().select({"env": "prod"}) == ["eu-west", "us-east"]
    assert settings.fleet().default is None  # two instances and no default: a trigger must name one
    clients = build_sddc_clients(settings)
    assert set(clients) == {"eu-west", "us-east"}


def test_toml_fleet_beside_the_single_instance_variables(tmp_path):
    secret = tmp_path / "s"
    secret.write_text("x")
    path = tmp_path / "fleet.toml"
    path.write_text(TOML.format(secret=secret))
    settings = Settings(sddc_url="https://sddc.example.com", sddc_managers_file=str(path))
    assert [i.name for i in settings.fleet_instances()] == ["default", "eu-west"]
    assert settings.fleet().default == "default"


def test_without_a_fleet_file_the_single_instance_is_named_default():
    settings = Settings(sddc_url="https://sddc.example.com", sddc_password="pw")
    assert [i.name for i in settings.fleet_instances()] == ["default"]
    assert list(build_sddc_clients(settings)) == ["default"]


def test_every_bad_entry_is_named_in_one_error(tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text("instances:\n"
                    "  - name: eu-west\n    url: ftp://nope\n"
                    "  - name: Bad Name\n    url: https://x.example.com\n"
                    "  - name: inline\n    url: https://y.example.com\n    password: hunter2\n"
                    "  - url: https://z.example.com\n    colour: blue\n")
    with pytest.raises(ValidationError) as raised:
        Settings(sddc_managers_file=str(path))
    text = str(raised.value)
    assert "instances[0] (eu-west).url" in text and "https://" in text
    assert "instances[1] (Bad Name).name" in text
    assert "instances[2] (inline)" in text and "password_file" in text and "hunter2" not in text
    assert "instances[3].name" in text and "instances[3].colour" in text


def test_duplicates_unknown_suffixes_and_missing_files_are_refused(tmp_path):
    twice = tmp_path / "fleet.yml"
    twice.write_text("instances:\n  - {name: a, url: 'https://a'}\n  - {name: a, url: 'https://b'}\n")
    with pytest.raises(ValidationError, match="appears twice"):
        Settings(sddc_managers_file=str(twice))
    json_file = tmp_path / "fleet.json"
    json_file.write_text("{}")
    with pytest.raises(ValidationError, match=r"\.yaml, \.yml or \.toml"):
        Settings(sddc_managers_file=str(json_file))
    with pytest.raises(ValidationError, match="not a readable file"):
        Settings(sddc_managers_file=str(tmp_path / "missing.yaml"))
