from __future__ import annotations

import pytest
from pydantic import ValidationError

from webhook.settings import Settings


def test_environment_with_prefix_and_duration_forms(monkeypatch):
    monkeypatch.setenv("VCFBACKUP_SDDC_URL", "https://sddc.example.com")
    monkeypatch.setenv("VCFBACKUP_BACKUP_TIMEOUT", "90m")
    monkeypatch.setenv("VCFBACKUP_CALLBACK_ALLOWED_HOSTS", "a.example.com, *.b.example.com,c.example.com:8443")
    monkeypatch.setenv("VCFBACKUP_API_TOKENS", "terraform:tok-1,ci:tok-2")
    settings = Settings()
    assert settings.sddc_url == "https://sddc.example.com"
    assert settings.backup_timeout == 5400
    assert settings.callback_allowed_hosts == ["a.example.com", "*.b.example.com", "c.example.com:8443"]
    assert {k: v.get_secret_value() for k, v in settings.api_tokens.items()} == {"terraform": "tok-1", "ci": "tok-2"}


def test_every_secret_can_come_from_a_file(monkeypatch, tmp_path):
    for name in ("sddc_password", "api_tokens", "callback_signing_secret", "slack_signing_secret"):
        path = tmp_path / name
        path.write_text("ci:from-file\n" if name == "api_tokens" else f"{name}-value\n")
        monkeypatch.setenv(f"VCFBACKUP_{name.upper()}_FILE", str(path))
    settings = Settings()
    assert settings.sddc_password_value() == "sddc_password-value"
    assert settings.api_tokens["ci"].get_secret_value() == "from-file"
    assert settings.slack_signing_secret.get_secret_value() == "slack_signing_secret-value"


def test_unreadable_secret_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("VCFBACKUP_SDDC_PASSWORD_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="cannot be read"):
        Settings()


def test_secrets_never_show_in_repr_or_dump(monkeypatch):
    monkeypatch.setenv("VCFBACKUP_SDDC_PASSWORD", "hunter2-very-secret")
    monkeypatch.setenv("VCFBACKUP_API_TOKENS", "ci:token-very-secret")
    settings = Settings()
    assert "very-secret" not in repr(settings)
    assert "very-secret" not in settings.model_dump_json()


def test_malformed_token_list_is_refused_without_echoing_it(monkeypatch):
    monkeypatch.setenv("VCFBACKUP_API_TOKENS", "just-a-token-secret")
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert "just-a-token-secret" not in str(caught.value).split("input_value")[0]


def test_toml_file_fills_in_and_environment_wins(monkeypatch, tmp_path):
    config = tmp_path / "vcf-backup-webhook.toml"
    config.write_text('sddc_url = "https://from-file.example.com"\nbackup_timeout = "2h"\n'
                      'callback_allowed_hosts = ["a.example.com", "b.example.com"]\n')
    monkeypatch.setenv("VCFBACKUP_CONFIG_FILE", str(config))
    monkeypatch.setenv("VCFBACKUP_BACKUP_TIMEOUT", "30m")
    settings = Settings()
    assert settings.sddc_url == "https://from-file.example.com"
    assert settings.backup_timeout == 1800
    assert settings.callback_allowed_hosts == ["a.example.com", "b.example.com"]


def test_missing_toml_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("VCFBACKUP_CONFIG_FILE", str(tmp_path / "nope.toml"))
    with pytest.raises(ValueError, match="CONFIG_FILE"):
        Settings()
