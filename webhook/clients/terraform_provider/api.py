"""The provider's calls to the service: start a backup, wait for it, read a trigger, read the latest.

Every failure becomes a :class:`ServiceError` whose summary and detail go into a Terraform diagnostic
as they are, so nothing here may ever put the token into one (it lives only in the session headers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..http import ENV_TOKEN, FINISHED, error_body, pause_after_early_answer, session

USER_AGENT = "terraform-provider-vcfbackup"


if TYPE_CHECKING:
    import requests


class ServiceError(Exception):
    def __init__(self, summary: str, detail: str = "") -> None:
        super().__init__(summary)
        self.summary = summary
        self.detail = detail


@dataclass(frozen=True)
class Connection:
    endpoint: str
    token: str
    verify: bool | str
    request_timeout: float


class ServiceApi:
    def __init__(self, connection: Connection) -> None:
        self.endpoint = connection.endpoint.rstrip("/")
        self.timeout = connection.request_timeout
        self.http = session(connection.token, verify=connection.verify, user_agent=USER_AGENT)

    def _call(self, method: str, path: str, *, wait: float = 0.0, **kwargs: Any) -> requests.Response:
        import requests  # here, not at the top: the provider's launch (its handshake) does not wait for it

        params = kwargs.pop("params", {}) | ({"wait": f"{wait:.0f}"} if wait >= 1 else {})
        try:
            return self.http.request(method, self.endpoint + path, params=params or None,
                                     timeout=self.timeout + wait, **kwargs)
        except requests.RequestException as exc:
            raise Unreachable(f"vcf-backup-webhook at {self.endpoint} is unreachable ({type(exc).__name__})",
                              "Check the provider's endpoint (or VCFBACKUP_TRIGGER_URL) and that the service "
                              "is running.") from None

    def start_backup(self, body: dict[str, Any], idempotency_key: str, *, deadline: float) -> dict[str, Any]:
        """``POST /v1/triggers``. A retry after a lost answer sends the same idempotency key, so the service
        hands back the same trigger instead of starting a second backup."""
        payload = body | {"idempotencyKey": idempotency_key}
        while True:
            try:
                response = self._call("POST", "/v1/triggers", json=payload,
                                      headers={"Idempotency-Key": idempotency_key})
            except Unreachable:
                if time.monotonic() + 1 >= deadline:
                    raise
                time.sleep(1)
                continue
            if response.status_code >= 500 and time.monotonic() + 1 < deadline:
                time.sleep(1)
                continue
            return self._document(response, "start the backup")

    def wait(self, view: dict[str, Any], *, deadline: float) -> dict[str, Any]:
        """Long-poll ``GET /v1/triggers/{id}?wait=`` until the trigger is finished or ``deadline`` passes.

        The waits grow (1, 2, 4 ... 20 s): the service checks often early in each wait and about once a
        second later on, so short waits first see a short backup end soon after it does, and long
        backups cost a request every 20 s."""
        chunk = 1.0
        while view["state"] not in FINISHED:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return view
            wait, chunk = max(1.0, min(chunk, remaining)), min(chunk * 2, 20.0)
            asked_at = time.monotonic()
            try:
                response = self._call("GET", f"/v1/triggers/{view['id']}", wait=wait)
            except Unreachable:
                time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
                continue
            if response.status_code >= 500:
                time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
                continue
            view = self._document(response, "follow the backup")
            if view["state"] not in FINISHED:
                pause_after_early_answer(asked_at, deadline)
        return view

    def trigger(self, trigger_id: str) -> dict[str, Any] | None:
        """``GET /v1/triggers/{id}``; None once the service has pruned it from its audit trail."""
        response = self._call("GET", f"/v1/triggers/{trigger_id}")
        if response.status_code == 404:
            return None
        return self._document(response, f"read trigger {trigger_id}")

    def latest(self, elements: list[str] | None) -> dict[str, Any] | None:
        """``GET /v1/backups/latest``; None when the service has no SUCCESSFUL backup yet."""
        params = {"elements": ",".join(elements)} if elements else {}
        response = self._call("GET", "/v1/backups/latest", params=params)
        if response.status_code == 404:
            return None
        return self._document(response, "read the latest backup")

    def _document(self, response: requests.Response, doing: str) -> dict[str, Any]:
        if response.status_code < 400:
            body = response.json()
            if isinstance(body, dict):
                return body
        error = error_body(response)
        message = f"{error.get('message') or ''} {error.get('remediationMessage') or ''}".strip()
        if response.status_code in (401, 403):
            raise ServiceError(
                f"vcf-backup-webhook refused the token ({response.status_code})",
                f"The provider's token (its `token` argument or {ENV_TOKEN}) is not one the service accepts: "
                f"use one of the service's VCFBACKUP_API_TOKENS. {message}".strip())
        raise ServiceError(f"vcf-backup-webhook could not {doing} ({response.status_code} "
                           f"{error.get('errorCode') or ''})".replace(" )", ")"), message)


class Unreachable(ServiceError):
    """The service did not answer at all (connection refused, timed out, TLS failure)."""
