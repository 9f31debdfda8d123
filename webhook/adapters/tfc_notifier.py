"""The run task notifier: PATCHes HCP Terraform's ``task_result_callback_url`` (kind ``tfc_run_task``).

One ``send`` is one PATCH with ``Authorization: Bearer <access_token>`` and a JSON:API body
(``Content-Type: application/vnd.api+json``). 200 is accepted; 401 (token no longer valid) and
422 (invalid or already final status) can never succeed, so they are final; 429, 5xx and
connection errors are retried by the worker. Nothing is sent once HCP Terraform has stopped
waiting (10 minutes after its request), nor a ``running`` after the final status is owed.
The token is never put in an error text, a log line or an exception.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from ..core.ports import Store
from ..core.times import parse_iso
from ..core.triggers import AttemptResult, Delivery, DeliveryEvent, DeliveryState
from ..sources import terraform_messages
from ..sources.terraform import RunTaskConfig
from . import bounded_http
from .bounded_http import Answer
from .notifiers import USER_AGENT
from .notifiers import refusal as url_refusal
from .sibling_deliveries import SiblingDeliveries

Render = Callable[[str, dict[str, Any], dict[str, Any]], dict[str, Any]]


class TfcRunTaskNotifier:
    """``Notifier`` for callback kind ``tfc_run_task``.

    Args:
        render: builds the JSON:API body from (event, result document, callback options).
        check_url: raises ``CallbackRefused`` for a callback URL the token may not be sent to.
        store: where the trigger's other deliveries are read (no ``running`` after the final word).
        timeout: seconds for one PATCH, its whole answer included.
        now: the clock used for the 10-minute limit.
    """

    def __init__(
        self, render: Render, check_url: Callable[[str], object], *, store: Store | None = None,
        timeout: float = 15.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.render = render
        self.check_url = check_url
        self.store = store
        self.timeout = timeout
        self.now = now
        self.siblings = SiblingDeliveries(store) if store is not None else None

    def prepare(self, deliveries: Sequence[Delivery]) -> None:
        """A batch is about to be sent: read, at once, the other deliveries of its ``running`` messages'
        triggers (only a ``running`` looks at them; a storm's final statuses skip the read)."""
        if self.siblings is not None:
            self.siblings.prepare([d for d in deliveries if d.event is DeliveryEvent.STARTED])

    def send(self, delivery: Delivery) -> AttemptResult:
        refusal = self._refusal(delivery)
        if refusal:
            return AttemptResult(ok=False, error=refusal, permanent=True)
        url = delivery.target.url
        refused = url_refusal(url, self.check_url)
        if refused:
            return refused
        document = self.render(delivery.event.value, delivery.body, delivery.target.options)
        headers = {
            "Content-Type": "application/vnd.api+json",
            "Authorization": f"Bearer {delivery.target.options['access_token']}",
            "User-Agent": USER_AGENT,
        }
        try:
            response = bounded_http.request("PATCH", url, json.dumps(document).encode(), headers,
                                            deadline=self.timeout)
        except bounded_http.AttemptFailed as exc:
            return AttemptResult(ok=False, error=f"HCP Terraform: {exc}")
        return result_of(response)

    def _refusal(self, delivery: Delivery) -> str | None:
        """Why this delivery may not be sent (any more), or None."""
        options = delivery.target.options
        if not options.get("access_token"):
            return "the run task's access token is gone (discarded after the final status); not sent"
        expires = _parse(options.get("expires_at"))
        if expires is not None and self.now() > expires:
            return "HCP Terraform stopped waiting for this task 10 minutes after its request; not sent"
        if delivery.event is DeliveryEvent.STARTED and self.siblings is not None:
            for other in self.siblings.of(delivery):
                final = other.event is DeliveryEvent.COMPLETED or (
                    other.event is DeliveryEvent.DEADLINE and other.state is DeliveryState.DELIVERED)
                if final:
                    return "the final status is already owed, so 'running' would arrive late; not sent"
        return None


def result_of(response: Answer) -> AttemptResult:
    """2xx ok; 429, 408 and 5xx retried; 3xx and other 4xx (401, 404, 422) final."""
    code = response.status
    if 200 <= code < 300:
        return AttemptResult(ok=True, status_code=code)
    error = f"HCP Terraform answered {code}" + _detail(response)
    if code == 429 or code == 408 or code >= 500:
        header = (response.headers.get("retry-after") or "").strip()
        return AttemptResult(ok=False, status_code=code, error=error,
                             retry_after=float(header) if header.isdigit() else None)
    if 300 <= code < 400:
        error = f"HCP Terraform answered {code} (a redirect, which is never followed)"
    return AttemptResult(ok=False, status_code=code, error=error, permanent=True)


def _detail(response: Answer) -> str:
    """The first JSON:API error title or detail, for the delivery record (never the request's headers)."""
    try:
        errors = json.loads(response.body).get("errors") or []
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        text = str(first.get("detail") or first.get("title") or "").strip()
    except (ValueError, AttributeError, RecursionError):
        return ""
    return f": {text[:200]}" if text else ""


def _parse(text: Any) -> datetime | None:
    return parse_iso(str(text)) if text else None


def for_source(config: RunTaskConfig, *, store: Store | None, timeout: float) -> TfcRunTaskNotifier:
    """The notifier the run task's registry entry names: its JSON:API bodies, its callback hosts."""
    return TfcRunTaskNotifier(terraform_messages.task_result, config.check_callback_url, store=store, timeout=timeout)
