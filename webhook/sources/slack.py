"""The Slack slash command (``/vcf-backup``): verify, parse, authorise, translate into a Trigger.

Order is the security model: ``verify_request`` runs over the raw body and headers before a
single form field is read, so an unsigned or replayed request can cause nothing but a 401.
Then the form is parsed (``parse_form``), the text becomes a ``Command`` (``parse_command``),
the allowlists decide (``is_allowed``), and only a ``backup`` becomes a ``Trigger``.

Idempotency: ``caller`` is ``slack:<team_id>`` and ``dedupe_key`` is Slack's ``trigger_id``,
unique per invocation, so a resent request maps onto the trigger already stored.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from ..core.callbacks import CallbackPolicy
from ..core.errors import CallbackRefused, InvalidRequest, Unauthenticated
from ..core.intake import Intake
from ..core.models import default_spec
from ..core.triggers import CallbackTarget, Trigger
from ..core.validation import check_bounds
from .sections import Headers, names, secret

SOURCE = "slack"
NOTIFIER_KIND = "slack"
MAX_CLOCK_SKEW = 60 * 5  # Slack's documented replay window, in seconds
MAX_REASON_CHARS = 1000
COMMANDS = ("backup", "status", "help")
_HELP_WORDS = frozenset({"help", "h", "?", "-h", "--help", "-help", "usage"})
_LATEST_WORDS = frozenset({"latest", "last"})
# A first word this close to a command is a typo of it: show help rather than start a backup
# whose reason is "stauts".
_TYPO_CUTOFF = 0.75


def response_url_policy(entries: Iterable[str]) -> CallbackPolicy:
    """Where Slack's ``response_url`` may point: the allowlist, https, never link-local.

    Plain http only to a host:port written out exactly: Slack itself always sends https, so such
    an entry is a deliberate local stand-in (a test receiver, a relay).
    """
    return CallbackPolicy.exact_http(entries, setting_name="VCFBACKUP_SLACK_RESPONSE_HOSTS",
                                     what="Slack's response_url")


@dataclass(frozen=True)
class SlackConfig:
    """What the Slack source needs from the settings (built by ``create_app``)."""

    signing_secret: str | None
    response_urls: CallbackPolicy
    allowed_teams: frozenset[str] = frozenset()
    allowed_channels: frozenset[str] = frozenset()
    allowed_users: frozenset[str] = frozenset()
    response_type: str = "ephemeral"
    admins: frozenset[str] = frozenset()  # user ids allowed `all <reason>` (a backup of every instance)


def configure(section: Mapping[str, Any], callbacks: CallbackPolicy) -> SlackConfig:
    """The Slack settings section as the source's config (``callbacks`` is not used: Slack has its own hosts)."""
    return SlackConfig(
        signing_secret=secret(section, "signing_secret"),
        response_urls=response_url_policy(section.get("response_hosts", ("hooks.slack.com",))),
        allowed_teams=names(section, "allowed_teams"),
        allowed_channels=names(section, "allowed_channels"),
        allowed_users=names(section, "allowed_users"),
        response_type=section.get("response_type") or "ephemeral",
        admins=names(section, "admins"),
    )


class _At:
    """A fixed clock for ``SignatureVerifier`` so the check uses the service's clock."""

    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def _header(headers: Headers, name: str) -> str:
    """A header by name in any case: werkzeug's headers answer ``get`` so; a plain mapping is searched."""
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return value or ""


def verify_request(secret: str | None, body: bytes, headers: Headers, now: float) -> None:
    """Raise ``Unauthenticated`` unless the request carries a fresh, valid Slack v0 signature.

    Args:
        secret: the app's Signing Secret (``None``: not configured, everything is refused).
        body: the raw body, exactly as received.
        headers: the request headers (any case).
        now: the current Unix time in seconds.
    """
    if not secret:
        raise Unauthenticated("Slack requests are refused: no signing secret is configured.",
                              remediation="Operators: set VCFBACKUP_SLACK_SIGNING_SECRET to the Slack app's "
                                          "Signing Secret.")
    timestamp = _header(headers, "X-Slack-Request-Timestamp").strip()
    signature = _header(headers, "X-Slack-Signature").strip()
    if not timestamp or not signature:
        raise Unauthenticated("Missing X-Slack-Request-Timestamp or X-Slack-Signature header.",
                              remediation="Point only a Slack app's slash command at this URL.")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise Unauthenticated("X-Slack-Request-Timestamp is not a Unix time in seconds.")
    if abs(now - int(timestamp)) > MAX_CLOCK_SKEW:
        raise Unauthenticated("X-Slack-Request-Timestamp is more than 5 minutes from this server's clock "
                              "(a replayed request, or a clock out of sync).",
                              remediation="Check that this server's clock is synchronised (NTP).")
    from slack_sdk.signature import SignatureVerifier  # here: the worker loop loads this module, never verifies

    try:
        valid = SignatureVerifier(secret, clock=_At(now)).is_valid(body, timestamp, signature)  # type: ignore[arg-type]
    except (ValueError, UnicodeDecodeError):  # a body that is not UTF-8 cannot be a Slack form
        valid = False
    if not valid:
        raise Unauthenticated("X-Slack-Signature does not match the request (wrong signing secret, or the body "
                              "was changed on the way).")


@dataclass(frozen=True)
class SlashCommand:
    """The fields of a slash-command request this service uses (the rest are ignored)."""

    team_id: str
    user_id: str
    channel_id: str = ""
    team_domain: str = ""
    channel_name: str = ""
    user_name: str = ""
    enterprise_id: str = ""
    command: str = "/vcf-backup"
    text: str = ""
    response_url: str = ""
    trigger_id: str = ""
    api_app_id: str = ""

    def audit(self) -> dict[str, str]:
        """Who asked, from where: stored with the trigger (no response_url, no token)."""
        fields = {"team_id": self.team_id, "team_domain": self.team_domain, "enterprise_id": self.enterprise_id,
                  "channel_id": self.channel_id, "channel_name": self.channel_name, "user_id": self.user_id,
                  "user_name": self.user_name, "command": self.command, "api_app_id": self.api_app_id,
                  "trigger_id": self.trigger_id}
        return {key: value for key, value in fields.items() if value}


_COMMAND_FIELDS = frozenset(SlashCommand.__dataclass_fields__)


def parse_form(body: bytes) -> SlashCommand:
    """The form-encoded body (already verified) as a ``SlashCommand``."""
    try:
        first = _first_values(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest(f"The body is not a Slack slash-command form: {type(exc).__name__}.") from None
    check_bounds(first, "Slack form")
    if not first.get("team_id") or not first.get("user_id"):
        raise InvalidRequest("The body is not a Slack slash-command form: team_id and user_id are required.")
    return SlashCommand(**{name: value for name, value in first.items() if name in _COMMAND_FIELDS})


def _first_values(text: str, max_fields: int = 64) -> dict[str, str]:
    """``parse_qs(text, keep_blank_values=True, max_num_fields=64)``, first value of each name (half its CPU)."""
    parts = text.split("&")
    if len(parts) > max_fields:
        raise ValueError("Max number of fields exceeded")
    found: dict[str, str] = {}
    for part in parts:
        if part:
            name, _, value = part.partition("=")
            name = unquote(name.replace("+", " "))
            if name not in found:
                found[name] = unquote(value.replace("+", " "))
    return found


@dataclass(frozen=True)
class Command:
    """What the text after the slash command asks for.

    ``argument`` is the reason (backup) or trigger id (status); ``unknown`` is a first word that
    looked like a mistyped subcommand, answered with the help text.
    """

    name: str
    argument: str | None = None
    unknown: str | None = None
    target: str | None = None  # an instance of the fleet, or "all" (every instance)


ALL = "all"


def parse_fleet_command(text: str, instances: Collection[str]) -> Command:
    """With a fleet: ``<instance> <reason>`` and ``all <reason>`` too; otherwise as ``parse_command``.

    ``instances`` are the fleet's names; with one instance the text means what it always did.
    """
    stripped = " ".join(text.split())
    first, _, rest = stripped.partition(" ")
    if len(instances) > 1 and (first in instances or first.lower() == ALL):
        return Command("backup", _reason(rest), target=ALL if first.lower() == ALL else first)
    return parse_command(text)


def is_admin(config: SlackConfig, command: SlashCommand) -> bool:
    return command.user_id in config.admins


def parse_command(text: str) -> Command:
    """``backup [reason...]`` | ``status [trigger-id]`` | ``help``; free text is a backup reason."""
    stripped = " ".join(text.split())
    if not stripped:
        return Command("backup")
    first, _, rest = stripped.partition(" ")
    word = first.lower()
    if word == "backup":
        return Command("backup", _reason(rest))
    if word == "status":
        target = rest.split(" ", 1)[0] if rest else None
        return Command("status", None if target is None or target.lower() in _LATEST_WORDS else target)
    if word in _HELP_WORDS:
        return Command("help")
    if word.startswith("-") or difflib.get_close_matches(word, COMMANDS, n=1, cutoff=_TYPO_CUTOFF):
        return Command("help", unknown=first)
    return Command("backup", _reason(stripped))


def _reason(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def is_allowed(config: SlackConfig, command: SlashCommand) -> bool:
    """True if team, channel and user are each allowed (an empty list allows all of its kind)."""
    checks = ((config.allowed_teams, command.team_id), (config.allowed_channels, command.channel_id),
              (config.allowed_users, command.user_id))
    return all(not allowed or value in allowed for allowed, value in checks)


def intake(command: SlashCommand, reason: str | None, *, config: SlackConfig, received_at: datetime,
           target: str | None = None) -> Intake:
    """A ``backup`` command as the service's intake (raises as ``to_trigger`` does, storing nothing).

    ``target``: an instance's name, or ``all`` (a fan-out over every instance; the web layer checks
    the user is an admin first).
    """
    trigger = to_trigger(command, reason, config=config, received_at=received_at)
    if target == ALL:
        trigger.selector = {}
    elif target:
        trigger.target = target
    intake = Intake.accept(trigger)
    # The ack is ephemeral: it can stand for the "started" post only when that post is ephemeral too.
    intake.announce_running = config.response_type == "ephemeral"
    return intake


def to_trigger(command: SlashCommand, reason: str | None, *, config: SlackConfig, received_at: datetime) -> Trigger:
    """A backup trigger whose result goes back through ``response_url``.

    Raises:
        CallbackRefused: the response_url is missing or not allowed (nothing is stored).
        InvalidRequest: Slack sent no trigger_id, so the request cannot be made idempotent.
    """
    if not command.response_url:
        raise CallbackRefused("Slack sent no response_url, so the result could not be posted back.")
    if not command.trigger_id:
        raise InvalidRequest("Slack sent no trigger_id, which this service needs to recognise resent requests.")
    config.response_urls.check(command.response_url)
    options: dict[str, Any] = {"response_type": config.response_type, "user_id": command.user_id}
    return Trigger(
        source=SOURCE,
        caller=f"slack:{command.team_id}",
        spec=default_spec(),
        reason=reason,
        dedupe_key=command.trigger_id,
        callback=CallbackTarget(kind=NOTIFIER_KIND, url=command.response_url, options=options),
        context={"slack": command.audit()},
        received_at=received_at,
    )

