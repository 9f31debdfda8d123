"""Outbound result notifications: one ``Notifier`` per callback kind, picked by ``NotifierRouter``.

The generic webhook is a JSON POST signed with Standard Webhooks headers (``webhook-id`` stable
across retries, ``webhook-timestamp`` per attempt, ``webhook-signature`` ``v1,<base64>``).
Redirects are never followed, and the host is re-checked at send time (allowlist, and the
resolved addresses against link-local/metadata ranges, against DNS rebinding).
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook

from ..core.callbacks import CallbackPolicy, is_forbidden_address, is_internal_address
from ..core.errors import CallbackRefused
from ..core.ports import Notifier
from ..core.triggers import AttemptResult, Delivery
from . import bounded_http
from .bounded_http import MAX_BODY, Answer

log = logging.getLogger("webhook.notifiers")

USER_AGENT = "vcf-backup-webhook"


def sign_standard_webhook(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """``webhook-signature`` value for one attempt (``secret`` is ``whsec_<base64>``)."""
    return Webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp, UTC), body)


def resolves_to_forbidden(host: str, port: int, *, internal_too: bool = False) -> bool:
    """True if ``host`` resolves to a metadata address (or, with ``internal_too``, a loopback/private one)."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError:
        return False  # let the request itself fail and be retried
    addresses = [str(info[4][0]) for info in infos]
    return any(is_forbidden_address(a) or (internal_too and is_internal_address(a)) for a in addresses)


def refusal(url: str, check: Callable[[str], object], names: Callable[[str, int], bool] | None = None,
            ) -> AttemptResult | None:
    """Why this URL must not be called now (policy, or DNS pointing at a metadata address), or None.

    Checked at send time as well as at trigger time: the allowlist may have changed since, and a
    name may resolve differently now (DNS rebinding).
    """
    try:
        check(url)
    except CallbackRefused as exc:
        return AttemptResult(ok=False, error=exc.message, permanent=True)
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    # A name reached through a wildcard entry must not lead to loopback or internal ports either.
    internal_too = names is not None and not names(host, port)
    if resolves_to_forbidden(host, port, internal_too=internal_too):
        return AttemptResult(ok=False, error=f"{host} resolves to a link-local, metadata or (through a wildcard "
                                             "allowlist entry) internal address", permanent=True)
    return None


def result_of_response(response: Answer) -> AttemptResult:
    code = response.status
    if 200 <= code < 300:
        return AttemptResult(ok=True, status_code=code)
    if 300 <= code < 400:  # redirects are never followed, so asking again can never succeed
        return AttemptResult(ok=False, status_code=code, permanent=True,
                             error=f"receiver answered {code} (a redirect, which is never followed)")
    retry_after: float | None = None
    header = response.headers.get("retry-after")
    if header and header.strip().isdigit():
        retry_after = float(header.strip())
    return AttemptResult(
        ok=False,
        status_code=code,
        error=f"receiver answered {code}",
        retry_after=retry_after,
        # 410 Gone: the receiver says the endpoint is gone for good (Standard Webhooks).
        permanent=code == 410,
    )


class WebhookNotifier:
    """Signed JSON POST to the trigger's callbackUrl."""

    def __init__(
        self,
        policy: CallbackPolicy,
        signing_secret: str | None = None,
        *,
        timeout: float = 15.0,
        max_body: int = MAX_BODY,
    ) -> None:
        self.policy = policy
        self._secret = signing_secret
        self.timeout = timeout  # the whole attempt: connect, send, and the entire answer
        self.max_body = max_body

    def send(self, delivery: Delivery) -> AttemptResult:
        url = delivery.target.url
        refused = refusal(url, self.policy.check, self.policy.allowlist.names)
        if refused:
            return refused
        body = json.dumps({"type": delivery.event.value, **delivery.body}, separators=(",", ":"))
        timestamp = int(datetime.now(UTC).timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": delivery.id,
            "webhook-timestamp": str(timestamp),
        }
        if self._secret:
            headers["webhook-signature"] = sign_standard_webhook(self._secret, delivery.id, timestamp, body)
        try:
            answer = bounded_http.request("POST", url, body.encode(), headers, deadline=self.timeout,
                                          max_body=self.max_body)
        except bounded_http.AttemptFailed as exc:
            return AttemptResult(ok=False, error=str(exc))
        return result_of_response(answer)


class NotifierRouter:
    """Dispatches a delivery to the notifier registered for its callback kind."""

    def __init__(self, notifiers: Mapping[str, Notifier]) -> None:
        self.notifiers = dict(notifiers)

    def prepare(self, deliveries: Sequence[Delivery]) -> None:
        """Let each notifier that reads the store for its attempts read for this whole batch at once."""
        by_kind: dict[str, list[Delivery]] = {}
        for delivery in deliveries:
            by_kind.setdefault(delivery.target.kind, []).append(delivery)
        for kind, batch in by_kind.items():
            prepare = getattr(self.notifiers.get(kind), "prepare", None)
            if prepare is not None:
                prepare(batch)

    def send(self, delivery: Delivery) -> AttemptResult:
        notifier = self.notifiers.get(delivery.target.kind)
        if notifier is None:
            return AttemptResult(ok=False, error=f"no notifier for callback kind {delivery.target.kind!r}",
                                 permanent=True)
        try:
            return notifier.send(delivery)
        except Exception as exc:  # a notifier bug must not wedge the delivery loop: this one gives up
            log.exception("notifier failed", extra={"event": "delivery.notifier_failed"})
            return AttemptResult(ok=False, error=f"notifier error: {type(exc).__name__}", permanent=True)
