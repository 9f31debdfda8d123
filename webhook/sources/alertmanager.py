"""Alertmanager ``webhook_config`` notifications (payload version "4", Alertmanager 0.21–0.34) → Trigger.

Alertmanager delivers at least once and repeats unchanged groups every ``repeat_interval``, so the
same firing set must not start a backup storm. The cooldown identity is the group (``groupKey``)
plus its sorted firing fingerprints: a repeat inside ``VCFBACKUP_ALERTMANAGER_COOLDOWN`` is recorded
as SKIPPED with its reason; a new alert in the group, or the cooldown passing, may start a backup.
Resolved notifications start nothing. Alertmanager retries only 5xx, so everything the sender
can fix (credentials, payload, element values, callback URL) is a 4xx.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..core.callbacks import CallbackPolicy
from ..core.errors import InvalidRequest, ServiceError, Unauthenticated
from ..core.intake import Intake
from ..core.models import BackupResource, BackupSpec
from ..core.triggers import CallbackTarget, Trigger
from ..core.validation import KNOWN_RESOURCE_TYPES
from .alertmanager_payload import AmAlert as AmAlert  # re-exported (`as`): web and tests use them from here
from .alertmanager_payload import AmNotification as AmNotification
from .alertmanager_payload import parse as parse
from .auth import credentials
from .matchers import Matcher, describe, matches_all, parse_matchers
from .sections import secret

SOURCE = "alertmanager"
CALLER = "alertmanager"
CALLBACK_ANNOTATION = "backup_callback_url"
DEFAULT_ELEMENTS = ("SDDC_MANAGER",)
MAX_LISTED_NAMES = 20
MAX_LISTED_FINGERPRINTS = 50

RecentCorrelated = Callable[[str, str, datetime], Trigger | None]


@dataclass(frozen=True)
class AlertmanagerConfig:
    """What the receiver needs from settings; built once by ``create_app``."""

    token: str | None = None
    username: str | None = None
    password: str | None = None
    matchers: tuple[Matcher, ...] = ()
    elements_key: str = "backup_elements"
    cooldown: float = 3600.0
    callback_url: str | None = None
    max_body_bytes: int = 4 * 1024 * 1024
    instance_label: str = "vcf_instance"  # the common label that names the target instance
    default_instance: str | None = None  # for a group without it (None: the service's default, if it has one)


def configure(section: Mapping[str, Any], callbacks: CallbackPolicy) -> AlertmanagerConfig:
    """The receiver's settings; a callback URL the allowlist refuses stops startup, not every alert."""
    defaults = AlertmanagerConfig()
    callback_url = section.get("callback_url") or None
    if callback_url:
        try:
            callbacks.check(callback_url)
        except ServiceError as exc:
            raise ValueError(f"VCFBACKUP_ALERTMANAGER_CALLBACK_URL is refused: {exc.message}") from None
    return AlertmanagerConfig(
        token=secret(section, "token"),
        username=section.get("username") or None,
        password=secret(section, "password", keep_empty=True),  # set but empty is still set
        matchers=parse_matchers(section.get("matchers") or ""),
        elements_key=section.get("elements_key", defaults.elements_key),
        cooldown=section.get("cooldown", defaults.cooldown),
        callback_url=callback_url,
        max_body_bytes=section.get("max_body_bytes", defaults.max_body_bytes),
        instance_label=section.get("instance_label") or defaults.instance_label,
        default_instance=section.get("default_instance") or None,
    )


# ------------------------------------------------------------------------------------------- auth
def _same(presented: str, expected: str) -> bool:
    """Constant time even across lengths: both sides are hashed to 32 bytes first."""
    return hmac.compare_digest(hashlib.sha256(presented.encode()).digest(), hashlib.sha256(expected.encode()).digest())


def authenticate(authorization: str | None, config: AlertmanagerConfig) -> None:
    """Accept the configured bearer token or basic-auth pair; with neither configured refuse all."""
    basic_configured = bool(config.username) and config.password is not None
    if not config.token and not basic_configured:
        raise Unauthenticated(
            "The Alertmanager receiver has no credentials configured, so every request is refused.",
            remediation="Operators: set VCFBACKUP_ALERTMANAGER_TOKEN (bearer) or VCFBACKUP_ALERTMANAGER_USERNAME "
                        "and VCFBACKUP_ALERTMANAGER_PASSWORD (basic auth), and the same in http_config.")
    scheme, value = credentials(authorization)
    if scheme == "bearer" and config.token and value:
        if _same(value, config.token):
            return
    elif scheme == "basic" and basic_configured and value:
        try:
            user, sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, sep, password = "", "", ""
        user_ok = _same(user, config.username or "")
        password_ok = _same(password, config.password or "")
        if sep and user_ok and password_ok:
            return
    elif not authorization:
        raise Unauthenticated("Missing credentials: send the Authorization header configured in http_config.")
    raise Unauthenticated("The Alertmanager credentials are not valid.",
                          remediation="Check http_config.authorization (or basic_auth) of this receiver in "
                                      "alertmanager.yml against the service's settings.")


# -------------------------------------------------------------------------------------- translate
def _elements(alerts: list[AmAlert], key: str) -> BackupSpec:
    """Union of the element values the alerts name in a label or annotation; unknown values are refused."""
    wanted: set[str] = set()
    for alert in alerts:
        for where, values in (("label", alert.labels), ("annotation", alert.annotations)):
            raw = values.get(key, "")
            for token in raw.replace(",", " ").split():
                if token not in KNOWN_RESOURCE_TYPES:
                    raise InvalidRequest(
                        f"Alert {alert.labels.get('alertname', '?')} (fingerprint {alert.key()}) has {where} "
                        f"{key}={raw!r}: {token!r} is not a backup element "
                        f"(supported: {', '.join(sorted(KNOWN_RESOURCE_TYPES))}).",
                        remediation=f"Fix the {key} {where} in the alerting rule, or remove it for the default "
                                    f"({', '.join(DEFAULT_ELEMENTS)}).")
                wanted.add(token)
    names = sorted(wanted) or list(DEFAULT_ELEMENTS)
    return BackupSpec(elements=[BackupResource(resourceType=name) for name in names])


def _callback(alerts: list[AmAlert], config: AlertmanagerConfig, policy: CallbackPolicy) -> CallbackTarget | None:
    urls = sorted({a.annotations[CALLBACK_ANNOTATION].strip() for a in alerts
                   if a.annotations.get(CALLBACK_ANNOTATION, "").strip()})
    if len(urls) > 1:
        raise InvalidRequest(f"The firing alerts name {len(urls)} different {CALLBACK_ANNOTATION} annotations; "
                             "one notification has one callback.",
                             remediation=f"Give the alerts of a group the same {CALLBACK_ANNOTATION}, or group by it.")
    url = urls[0] if urls else config.callback_url
    if not url:
        return None
    policy.check(url)
    return CallbackTarget(kind="webhook", url=url)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def correlation_key(group_key: str, alerts: list[AmAlert]) -> str:
    """Cooldown identity: the group plus its sorted firing fingerprints."""
    return "am:" + _digest(group_key, *sorted({a.key() for a in alerts}))


def dedupe_key(
    notification: AmNotification, alerts: list[AmAlert], received_at: datetime, cooldown: float,
) -> str | None:
    """Same key for an exact redelivery (HA peers, retries) within one cooldown window; none without a cooldown."""
    if cooldown <= 0:
        return None
    window = int(received_at.timestamp() // cooldown)
    firing = sorted(f"{a.key()}@{a.startsAt}" for a in alerts)
    return f"am:{_digest(notification.groupKey, notification.status, *firing)}:{window}"


def _context(notification: AmNotification, matched: list[AmAlert]) -> dict[str, Any]:
    names = sorted({a.labels.get("alertname", "") for a in matched} - {""})
    fingerprints = sorted({a.key() for a in matched})
    context: dict[str, Any] = {
        "groupKey": notification.groupKey,
        "receiver": notification.receiver,
        "status": notification.status,
        "notificationReason": notification.notification_reason,
        "externalURL": notification.externalURL,
        "groupLabels": notification.groupLabels,
        "alerts": len(notification.alerts),
        "matchedFiring": len(matched),
        "truncatedAlerts": notification.truncatedAlerts,
        "alertNames": names[:MAX_LISTED_NAMES],
        "fingerprints": fingerprints[:MAX_LISTED_FINGERPRINTS],
    }
    if len(names) > MAX_LISTED_NAMES or len(fingerprints) > MAX_LISTED_FINGERPRINTS:
        context["listsTruncated"] = True
    if notification.routeLabels:
        context["routeLabels"] = notification.routeLabels
    return context


def _reason(notification: AmNotification, matched: list[AmAlert]) -> str:
    names = sorted({a.labels.get("alertname", "?") for a in matched or notification.alerts})
    listed = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    what = f"{len(matched)} firing alert(s)" if matched else f"{notification.status} notification"
    return f"Alertmanager receiver {notification.receiver or '?'}: {what}: {listed}"[:1000]


def decide(
    notification: AmNotification, config: AlertmanagerConfig, *, received_at: datetime,
    recent_correlated: RecentCorrelated, callback_policy: CallbackPolicy,
) -> Intake:
    """Resolved or unmatched → skip; bad elements or callback → 400; same firing set in cooldown → skip."""
    firing = notification.firing()
    matched = [a for a in firing if matches_all(config.matchers, a.labels)]

    def trigger(spec: BackupSpec | None = None, callback: CallbackTarget | None = None, **keys: Any) -> Trigger:
        return Trigger(source=SOURCE, caller=CALLER, spec=spec or _elements([], config.elements_key),
                       reason=_reason(notification, matched), callback=callback,
                       context=_context(notification, matched), received_at=received_at, **keys)

    if notification.status == "resolved" or not firing:
        return Intake.skip(trigger(), "resolved: all alerts of the group are resolved; resolved alerts start nothing")
    if not matched:
        return Intake.skip(trigger(), f"no firing alert matches VCFBACKUP_ALERTMANAGER_MATCHERS "
                                   f"{describe(config.matchers)} ({len(firing)} firing)")
    spec = _elements(matched, config.elements_key)
    callback = _callback(matched, config, callback_policy)
    correlation = correlation_key(notification.groupKey, matched)
    if config.cooldown > 0:
        since = received_at - timedelta(seconds=config.cooldown)
        earlier = recent_correlated(SOURCE, correlation, since)
        if earlier is not None:
            until = earlier.received_at + timedelta(seconds=config.cooldown)
            return Intake.skip(
                trigger(spec, callback, correlation_key=correlation),
                f"cooldown: the same group with the same firing alerts already asked for a backup "
                f"(trigger {earlier.id} at {earlier.received_at.isoformat()}); "
                f"no new one before {until.isoformat()} unless the firing set changes")
    accepted = Intake.accept(trigger(spec, callback, correlation_key=correlation,
                                     dedupe_key=dedupe_key(notification, matched, received_at, config.cooldown)))
    return routed(accepted, notification, matched, config)


def routed(intake: Intake, notification: AmNotification, matched: list[AmAlert], config: AlertmanagerConfig) -> Intake:
    """Name the target from the instance label (common to the group, or to every matched alert).

    A group without the label goes to ``default_instance``, else to the service's default instance;
    a name the fleet does not know, or no way to decide, is recorded SKIPPED with the reason
    (Alertmanager would only retry a 4xx), never silently dropped.
    """
    label = config.instance_label
    values = {a.labels.get(label) for a in matched}
    named = notification.commonLabels.get(label) or (values.pop() if len(values) == 1 else None)
    intake.trigger.target = named or config.default_instance
    intake.unknown_target = "skip"
    intake.route_hint = (f"the alert label {label} names {named!r}" if named else
                         f"the group has no {label} label (VCFBACKUP_ALERTMANAGER_INSTANCE_LABEL) and "
                         "VCFBACKUP_ALERTMANAGER_DEFAULT_INSTANCE is unset")
    return intake
