"""The Slack source: signature checks (Slack's published vector), commands, authorisation, triggers."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from webhook.core.errors import CallbackRefused, InvalidRequest, Unauthenticated
from webhook.sources import slack
from webhook.sources.slack import Command, SlackConfig, SlashCommand, response_url_policy

# Slack's documented example (docs.slack.dev "Verifying requests from Slack"; also in slack_sdk's tests).
VECTOR_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
VECTOR_TIMESTAMP = "1531420618"
VECTOR_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
VECTOR_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
VECTOR_NOW = float(VECTOR_TIMESTAMP) + 10


def vector_headers(**overrides: str) -> dict[str, str]:
    headers = {"X-Slack-Request-Timestamp": VECTOR_TIMESTAMP, "X-Slack-Signature": VECTOR_SIGNATURE}
    headers.update(overrides)
    return {k: v for k, v in headers.items() if v != "<drop>"}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return f"v0={digest}"


def config(**overrides: object) -> SlackConfig:
    values: dict[str, object] = {"signing_secret": VECTOR_SECRET,
                                 "response_urls": response_url_policy(["hooks.slack.com"])}
    values.update(overrides)
    return SlackConfig(**values)  # type: ignore[arg-type]


# ------------------------------------------------------------------ verification
def test_slacks_published_example_verifies():
    slack.verify_request(VECTOR_SECRET, VECTOR_BODY, vector_headers(), VECTOR_NOW)


def test_our_signer_reproduces_slacks_published_signature():
    assert sign(VECTOR_SECRET, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_header_names_are_case_insensitive():
    headers = {k.lower(): v for k, v in vector_headers().items()}
    slack.verify_request(VECTOR_SECRET, VECTOR_BODY, headers, VECTOR_NOW)


@pytest.mark.parametrize("now", [float(VECTOR_TIMESTAMP) + 301, float(VECTOR_TIMESTAMP) - 301])
def test_timestamp_more_than_five_minutes_off_is_rejected(now):
    with pytest.raises(Unauthenticated, match="5 minutes"):
        slack.verify_request(VECTOR_SECRET, VECTOR_BODY, vector_headers(), now)


def test_timestamp_at_the_edge_of_the_window_is_accepted():
    slack.verify_request(VECTOR_SECRET, VECTOR_BODY, vector_headers(), float(VECTOR_TIMESTAMP) + 300)


def test_wrong_signature_is_rejected():
    with pytest.raises(Unauthenticated, match="does not match"):
        slack.verify_request(VECTOR_SECRET, VECTOR_BODY, vector_headers(**{"X-Slack-Signature": "v0=" + "0" * 64}),
                             VECTOR_NOW)


def test_wrong_secret_is_rejected():
    with pytest.raises(Unauthenticated):
        slack.verify_request("another-secret", VECTOR_BODY, vector_headers(), VECTOR_NOW)


def test_changed_body_is_rejected():
    with pytest.raises(Unauthenticated):
        slack.verify_request(VECTOR_SECRET, VECTOR_BODY.replace(b"text=", b"text=status"), vector_headers(),
                             VECTOR_NOW)


@pytest.mark.parametrize("dropped", ["X-Slack-Request-Timestamp", "X-Slack-Signature"])
def test_missing_header_is_rejected(dropped):
    with pytest.raises(Unauthenticated, match="Missing"):
        slack.verify_request(VECTOR_SECRET, VECTOR_BODY, vector_headers(**{dropped: "<drop>"}), VECTOR_NOW)


@pytest.mark.parametrize("timestamp", ["abc", "1531420618.5", "-1531420618", "١٥٣١٤٢٠٦١٨", "9" * 40])
def test_non_numeric_timestamp_is_rejected_not_crashed(timestamp):
    with pytest.raises(Unauthenticated):
        slack.verify_request(VECTOR_SECRET, VECTOR_BODY, vector_headers(**{"X-Slack-Request-Timestamp": timestamp}),
                             VECTOR_NOW)


def test_body_that_is_not_utf8_is_rejected_not_crashed():
    body = b"team_id=T1&text=\xff\xfe"
    headers = {"X-Slack-Request-Timestamp": VECTOR_TIMESTAMP, "X-Slack-Signature": "v0=" + "a" * 64}
    with pytest.raises(Unauthenticated):
        slack.verify_request(VECTOR_SECRET, body, headers, VECTOR_NOW)


def test_without_a_configured_secret_everything_is_rejected():
    with pytest.raises(Unauthenticated, match="no signing secret"):
        slack.verify_request(None, VECTOR_BODY, vector_headers(), VECTOR_NOW)


# ------------------------------------------------------------------ form and commands
def test_published_example_body_parses_as_a_slash_command():
    command = slack.parse_form(VECTOR_BODY)
    assert command.team_id == "T1DC2JH3J"
    assert command.user_id == "U2CERLKJA"
    assert command.user_name == "roadrunner"
    assert command.channel_id == "G8PSS9T3V"
    assert command.command == "/webhook-collect"
    assert command.text == ""
    assert command.response_url == "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN"
    assert command.trigger_id == "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"


def test_form_without_team_or_user_is_invalid():
    with pytest.raises(InvalidRequest):
        slack.parse_form(b"text=backup&user_id=U1")


@pytest.mark.parametrize(("text", "expected"), [
    ("", Command("backup")),
    ("   ", Command("backup")),
    ("backup", Command("backup")),
    ("BACKUP before the NSX upgrade", Command("backup", "before the NSX upgrade")),
    ("before the NSX upgrade", Command("backup", "before the NSX upgrade")),
    ("status", Command("status")),
    ("status latest", Command("status")),
    ("status trg_0123456789abcdef0123 extra", Command("status", "trg_0123456789abcdef0123")),
    ("help", Command("help")),
    ("--help", Command("help")),
    ("?", Command("help")),
])
def test_command_text_is_parsed(text, expected):
    assert slack.parse_command(text) == expected


@pytest.mark.parametrize("typo", ["stauts", "stat", "bakup", "hlep", "-x"])
def test_a_mistyped_subcommand_gets_help_instead_of_a_backup(typo):
    assert slack.parse_command(typo) == Command("help", unknown=typo)


def test_a_very_long_reason_is_clipped():
    parsed = slack.parse_command("backup " + "x" * 5000)
    assert parsed.argument is not None and len(parsed.argument) == slack.MAX_REASON_CHARS


# ------------------------------------------------------------------ authorisation
def command(**overrides: str) -> SlashCommand:
    values = {"team_id": "T1", "channel_id": "C1", "user_id": "U1", "user_name": "alice",
              "response_url": "https://hooks.slack.com/commands/T1/1/abc", "trigger_id": "111.222.abc",
              "command": "/vcf-backup"}
    values.update(overrides)
    return SlashCommand(**values)


def test_empty_allowlists_allow_everyone():
    assert slack.is_allowed(config(), command())


@pytest.mark.parametrize(("kind", "field"), [("allowed_teams", "team_id"), ("allowed_channels", "channel_id"),
                                             ("allowed_users", "user_id")])
def test_each_allowlist_refuses_what_it_does_not_list(kind, field):
    cfg = config(**{kind: frozenset({"X9"})})
    assert not slack.is_allowed(cfg, command())
    assert slack.is_allowed(cfg, command(**{field: "X9"}))


def test_all_allowlists_must_agree():
    cfg = config(allowed_teams=frozenset({"T1"}), allowed_users=frozenset({"U2"}))
    assert not slack.is_allowed(cfg, command())
    assert slack.is_allowed(cfg, command(user_id="U2"))


# ------------------------------------------------------------------ triggers and response_url
RECEIVED = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def test_backup_trigger_carries_who_asked_and_where_the_result_goes():
    trigger = slack.to_trigger(command(), "pre-change", config=config(response_type="in_channel"),
                               received_at=RECEIVED)
    assert trigger.source == "slack"
    assert trigger.caller == "slack:T1"
    assert trigger.dedupe_key == "111.222.abc"
    assert trigger.reason == "pre-change"
    assert trigger.spec.elements[0].resourceType == "SDDC_MANAGER"
    assert trigger.callback is not None
    assert trigger.callback.kind == "slack"
    assert trigger.callback.url == "https://hooks.slack.com/commands/T1/1/abc"
    assert trigger.callback.options == {"response_type": "in_channel", "user_id": "U1"}
    assert trigger.context["slack"]["user_id"] == "U1"
    assert trigger.context["slack"]["user_name"] == "alice"
    assert trigger.context["slack"]["channel_id"] == "C1"
    assert "response_url" not in trigger.context["slack"]


@pytest.mark.parametrize("url", [
    "https://evil.example.com/commands/x",
    "http://hooks.slack.com/commands/x",
    "https://user:pw@hooks.slack.com/commands/x",
    "ftp://hooks.slack.com/x",
    "not a url",
    "",
])
def test_a_response_url_off_the_allowlist_starts_nothing(url):
    with pytest.raises(CallbackRefused):
        slack.to_trigger(command(response_url=url), None, config=config(), received_at=RECEIVED)


def test_a_request_without_trigger_id_is_invalid():
    with pytest.raises(InvalidRequest):
        slack.to_trigger(command(trigger_id=""), None, config=config(), received_at=RECEIVED)


def test_plain_http_only_to_a_host_port_listed_exactly():
    policy = response_url_policy(["hooks.slack.com", "127.0.0.1:8099", "*.relay.example:8443"])
    assert policy.check("https://hooks.slack.com/commands/1")
    assert policy.check("http://127.0.0.1:8099/commands/1")
    assert policy.check("https://127.0.0.1:8099/commands/1")
    assert policy.check("https://a.relay.example:8443/x")
    for refused in ("http://hooks.slack.com/commands/1", "http://127.0.0.1:8098/x", "http://a.relay.example:8443/x"):
        with pytest.raises(CallbackRefused):
            policy.check(refused)


def test_link_local_response_url_is_refused_even_if_listed():
    with pytest.raises(CallbackRefused, match="link-local"):
        response_url_policy(["169.254.169.254"]).check("https://169.254.169.254/latest")


def test_signed_form_round_trip():
    body = urlencode({"team_id": "T1", "user_id": "U1", "text": "backup now & then"}).encode()
    slack.verify_request("s3cret", body, {"X-Slack-Request-Timestamp": "1700000000",
                                          "X-Slack-Signature": sign("s3cret", "1700000000", body)}, 1700000001.0)
    assert slack.parse_form(body).text == "backup now & then"


def test_settings_from_the_environment_become_the_slack_config(monkeypatch):
    from webhook.app import source_configs
    from webhook.settings import Settings

    monkeypatch.setenv("VCFBACKUP_SLACK_SIGNING_SECRET", "from-env")
    monkeypatch.setenv("VCFBACKUP_SLACK_ALLOWED_USERS", "U1, U2")
    monkeypatch.setenv("VCFBACKUP_SLACK_RESPONSE_HOSTS", "hooks.slack.com,127.0.0.1:8099")
    monkeypatch.setenv("VCFBACKUP_SLACK_RESPONSE_TYPE", "In_Channel")
    cfg = source_configs(Settings())["slack"]
    assert cfg.signing_secret == "from-env"
    assert cfg.allowed_users == frozenset({"U1", "U2"}) and cfg.allowed_teams == frozenset()
    assert cfg.response_type == "in_channel"
    assert cfg.response_urls.check("http://127.0.0.1:8099/commands/1")


def test_an_unknown_response_type_is_a_configuration_error():
    from pydantic import ValidationError

    from webhook.settings import Settings

    with pytest.raises(ValidationError, match="ephemeral or in_channel"):
        Settings(slack_response_type="everyone")


@pytest.mark.parametrize("form", [
    "team_id=T1&user_id=U1&text=backup+now%21&text=second", "a=1&b=%zz&c&=x&d=+%2B+&e=%E2%98%83&f=%FF", "", "&&",
    "response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT%2F1%2Fx&trigger_id=1.2.3",
])
def test_the_form_reads_as_parse_qs_reads_it(form):
    from urllib.parse import parse_qs

    expected = {name: values[0] for name, values in parse_qs(form, keep_blank_values=True).items()}
    assert slack._first_values(form) == expected


def test_a_form_of_more_than_64_fields_is_refused():
    with pytest.raises(InvalidRequest):
        slack.parse_form(("team_id=T&user_id=U&" + "&".join(f"f{i}=x" for i in range(70))).encode())
