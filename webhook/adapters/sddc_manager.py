"""SDDC Manager REST client (requests): tokens, backups, tasks, backup configuration.

- Tokens: ``POST /v1/tokens`` (200 or 201), refreshed with ``PATCH /v1/tokens/access-token/refresh``
  shortly before the JWT's ``exp``; a 401/403 triggers one re-authentication and one retry.
- GETs are retried with backoff on 5xx and connection errors. A POST is never blindly retried:
  whether it reached SDDC Manager is the worker's question to answer (it adopts, it does not repost).
- Every failure is raised as ``core.errors.SddcManagerError`` carrying SDDC Manager's Error body.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from ..core.errors import SddcManagerError, SddcManagerUnreachable
from ..core.models import BackupSpec, BackupTask, Error, Task

log = logging.getLogger("webhook.sddc_manager")

BACKUP_TASK_TYPE = "SDDCMANAGER_BACKUP"


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT, without verifying it (we only need to know when to refresh)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


class SddcManagerClient:
    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        verify: bool | str = True,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        get_retries: int = 3,
        retry_backoff: float = 0.5,
        refresh_margin: float = 120.0,
        session: requests.Session | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._username = username
        self._password = password
        self.timeout = (connect_timeout, read_timeout)
        self.get_retries = get_retries
        self.retry_backoff = retry_backoff
        self.refresh_margin = refresh_margin
        self.session = session or requests.Session()
        self.session.verify = verify
        self._now = now
        self._lock = threading.Lock()
        self._access: str | None = None
        self._refresh_id: str | None = None
        self._expires_at = 0.0

    # ------------------------------------------------------------------ API
    def start_backup(self, spec: BackupSpec) -> BackupTask:
        response = self._call("POST", "/v1/backups/tasks", json=spec.to_json_dict(), ok=(200, 202))
        return BackupTask.model_validate(response.json())

    def get_task(self, task_id: str) -> Task:
        return Task.model_validate(self._call("GET", f"/v1/tasks/{task_id}").json())

    def list_backup_tasks(self) -> list[Task]:
        page = self._call("GET", "/v1/tasks", params={"taskType": BACKUP_TASK_TYPE, "pageSize": 100}).json()
        tasks = [Task.model_validate(t) for t in (page.get("elements") or [])]
        # Some versions ignore the filter: keep only backup tasks, newest first.
        tasks = [t for t in tasks if (t.type or BACKUP_TASK_TYPE).upper() == BACKUP_TASK_TYPE]
        return sorted(tasks, key=lambda t: t.creationTimestamp or "", reverse=True)

    def backup_configuration(self) -> dict[str, Any]:
        return dict(self._call("GET", "/v1/system/backup-configuration").json())

    def login(self) -> None:
        with self._lock:
            self._login()

    # ------------------------------------------------------------------ tokens
    def _token(self, *, force: bool = False) -> str:
        with self._lock:
            if force or self._access is None:
                self._login()
            elif self._expires_at - self._now() < self.refresh_margin:
                self._refresh()
            assert self._access is not None
            return self._access

    def _login(self) -> None:
        response = self._send("POST", "/v1/tokens", json={"username": self._username, "password": self._password},
                              ok=(200, 201), auth=False, retries=0)
        body = response.json()
        self._access = str(body["accessToken"])
        self._refresh_id = (body.get("refreshToken") or {}).get("id")
        self._expires_at = jwt_expiry(self._access) or self._now() + 3000
        log.info("logged in to SDDC Manager", extra={"event": "sddc.login"})

    def _refresh(self) -> None:
        if not self._refresh_id:
            self._login()
            return
        try:
            response = self._send("PATCH", "/v1/tokens/access-token/refresh", data=json.dumps(self._refresh_id),
                                  headers={"Content-Type": "application/json"}, ok=(200,), auth=False, retries=0)
            token = response.json()
            self._access = str(token if isinstance(token, str) else token.get("accessToken"))
            self._expires_at = jwt_expiry(self._access) or self._now() + 3000
            log.info("refreshed SDDC Manager token", extra={"event": "sddc.token_refreshed"})
        except SddcManagerError:
            self._login()  # the refresh token expired or was revoked

    # ------------------------------------------------------------------ HTTP
    def _call(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any) -> requests.Response:
        retries = self.get_retries if method == "GET" else 0
        try:
            return self._send(method, path, ok=ok, retries=retries, token=self._token(), **kwargs)
        except SddcManagerError as exc:
            if not exc.is_auth_failure:
                raise
        # The token expired early or was revoked: SDDC Manager did not act, so one retry is safe.
        return self._send(method, path, ok=ok, retries=retries, token=self._token(force=True), **kwargs)

    def _send(
        self, method: str, path: str, *, ok: tuple[int, ...], retries: int, auth: bool = True,
        token: str | None = None, headers: dict[str, str] | None = None, **kwargs: Any,
    ) -> requests.Response:
        headers = {"Accept": "application/json", **(headers or {})}
        if auth and token:
            headers["Authorization"] = f"Bearer {token}"
        attempt = 0
        while True:
            try:
                response = self.session.request(method, self.base_url + path, headers=headers,
                                                timeout=self.timeout, allow_redirects=False, **kwargs)
            except requests.RequestException as exc:
                if attempt < retries:
                    attempt += 1
                    time.sleep(self.retry_backoff * 2 ** (attempt - 1))
                    continue
                raise SddcManagerUnreachable(
                    f"SDDC Manager did not answer {method} {path}: {type(exc).__name__}.") from exc
            if response.status_code in ok:
                return response
            if response.status_code >= 500 and attempt < retries:
                attempt += 1
                time.sleep(self.retry_backoff * 2 ** (attempt - 1))
                continue
            raise _error_of(method, path, response)


def _error_of(method: str, path: str, response: requests.Response) -> SddcManagerError:
    error: Error | None = None
    try:
        body = response.json()
        if isinstance(body, dict) and (body.get("message") or body.get("errorCode")):
            error = Error.model_validate(body)
    except ValueError:
        pass
    detail = error.message if error and error.message else response.reason
    return SddcManagerError(
        f"SDDC Manager answered {response.status_code} to {method} {path}: {detail}",
        http_status=response.status_code,
        error=error,
    )
