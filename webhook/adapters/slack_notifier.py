"""The Slack notifier: posts a trigger's start and result messages to its ``response_url``.

Slack lets a ``response_url`` be used at most 5 times within 30 minutes, so every post is
counted against that budget, retries included. One ``send`` is exactly one POST (no retries inside
the notifier): the worker records each attempt and reschedules retries,
honouring ``Retry-After`` on a 429. The budget is split so no interleaving can exceed it:

* a ``backup.started`` delivery posts at most ``STARTED_MAX_POSTS`` (2) times, counted over all
  started deliveries of the trigger, and not at all once the result is owed (it would arrive late);
* the ``backup.completed`` delivery (one per trigger) gets what is left of 5 after reserving, for
  each started delivery, its attempts if it is finished or ``STARTED_MAX_POSTS`` if it may still post.

Every attempt counts, even one that failed before reaching Slack: the count errs on the safe side.
Redirects are never followed, and the URL is re-checked (allowlist, link-local, DNS) at send time.
Each POST is bounded as a whole and reads at most 64 KiB of the answer (``bounded_http``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from ..core.ports import Store
from ..core.triggers import AttemptResult, Delivery, DeliveryEvent, DeliveryState
from ..sources import slack_messages
from ..sources.slack import SlackConfig
from . import bounded_http
from .bounded_http import Answer
from .notifiers import USER_AGENT
from .notifiers import refusal as url_refusal
from .sibling_deliveries import SiblingDeliveries

MAX_POSTS = 5
STARTED_MAX_POSTS = 2

Render = Callable[[str, dict[str, Any], dict[str, Any]], dict[str, Any]]


class SlackNotifier:
    """``Notifier`` for callback kind ``slack``.

    Args:
        render: builds the message from (event, result document, callback options).
        check_url: raises ``CallbackRefused`` for a response_url that may not be called.
        store: where the trigger's other deliveries are read to count posts (``None``: each
            delivery is held to its own share, 2 for the start and 3 for the result).
        timeout: seconds for one POST, its whole answer included (``bounded_http``).
    """

    def __init__(
        self, render: Render, check_url: Callable[[str], object], *, store: Store | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.render = render
        self.check_url = check_url
        self.store = store
        self.timeout = timeout
        self.siblings = SiblingDeliveries(store) if store is not None else None

    def prepare(self, deliveries: Sequence[Delivery]) -> None:
        """A batch is about to be sent: read its triggers' other deliveries at once."""
        if self.siblings is not None:
            self.siblings.prepare(deliveries)

    def send(self, delivery: Delivery) -> AttemptResult:
        left, refusal = self._posts_left(delivery)
        if left <= 0:
            return AttemptResult(ok=False, error=refusal, permanent=True)
        url = delivery.target.url
        refused = url_refusal(url, self.check_url)
        if refused:
            return refused
        message = dict(self.render(delivery.event.value, delivery.body, delivery.target.options))
        message["response_type"] = delivery.target.options.get("response_type") or "ephemeral"
        body = json.dumps(message).encode()
        headers = {"Content-Type": "application/json;charset=utf-8", "User-Agent": USER_AGENT}
        try:
            response = bounded_http.request("POST", url, body, headers, deadline=self.timeout)
        except bounded_http.AttemptFailed as exc:  # timeouts, TLS errors: unknown outcome, retry
            result = AttemptResult(ok=False, error=f"posting to Slack's response_url: {exc}")
        else:
            result = result_of(response)
        if not result.ok and not result.permanent and left == 1:
            # The last post this delivery may make: a retry could only be refused, so stop here.
            result.permanent = True
            result.error = f"{result.error}; not retried: {_spent(delivery.event is DeliveryEvent.STARTED)}"
        return result

    def _posts_left(self, delivery: Delivery) -> tuple[int, str]:
        """How many more times this delivery may post, and why not when none."""
        own = len(delivery.attempts)
        started = delivery.event is DeliveryEvent.STARTED
        if self.siblings is None:
            return (STARTED_MAX_POSTS if started else MAX_POSTS - STARTED_MAX_POSTS) - own, _spent(started)
        others = self.siblings.of(delivery)
        other_started = [d for d in others if d.event is DeliveryEvent.STARTED]
        if started:
            if any(d.event is DeliveryEvent.COMPLETED for d in others):
                return 0, "the result is already owed, so the start message would arrive late; not sent"
            if any(d.state is DeliveryState.DELIVERED for d in other_started):
                return 0, "the start message was already posted by another delivery; not sent again"
            return STARTED_MAX_POSTS - own - sum(d.attempts for d in other_started), _spent(True)
        reserved = sum(d.attempts if d.state is not DeliveryState.PENDING
                       else max(d.attempts, STARTED_MAX_POSTS) for d in other_started)
        used = own + sum(d.attempts for d in others if d.event is DeliveryEvent.COMPLETED)
        return MAX_POSTS - reserved - used, _spent(False)


def _spent(started: bool) -> str:
    share = "the start message's share" if started else "the rest"
    return f"Slack allows {MAX_POSTS} response_url posts per command and {share} of them is used up"


def result_of(response: Answer) -> AttemptResult:
    """2xx ok; 429 and 5xx retried (429 after Retry-After); 3xx and other 4xx are final."""
    code = response.status
    if 200 <= code < 300:
        return AttemptResult(ok=True, status_code=code)
    detail = response.body.decode("utf-8", "replace").strip()[:100]
    error = f"Slack answered {code}" + (f": {detail}" if detail else "")
    if code == 429:
        return AttemptResult(ok=False, status_code=code, error=error, retry_after=_retry_after(response.headers))
    if code >= 500 or code == 408:
        return AttemptResult(ok=False, status_code=code, error=error)
    if 300 <= code < 400:
        error = f"Slack answered {code} (a redirect, which is never followed)"
    # 404 expired_url, 410, 400 invalid_blocks ...: sending the same post again cannot succeed.
    return AttemptResult(ok=False, status_code=code, error=error, permanent=True)


def _retry_after(headers: Any) -> float | None:
    for name, value in (headers.items() if hasattr(headers, "items") else []):
        if name.lower() == "retry-after" and str(value).strip().isdigit():
            return float(str(value).strip())
    return None



def for_source(config: SlackConfig, *, store: Store | None, timeout: float) -> SlackNotifier:
    """The notifier the Slack source's registry entry names: its messages, its response_url hosts."""
    return SlackNotifier(slack_messages.for_delivery, config.response_urls.check, store=store, timeout=timeout)
