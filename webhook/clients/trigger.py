"""A small client of the trigger API, for the ``trigger`` command (scripts, Terraform local-exec)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from .http import FINISHED, ExitCode, error_body, error_text, pause_after_early_answer, session

__all__ = ["ExitCode", "TriggerClient", "TriggerOutcome"]


@dataclass
class TriggerOutcome:
    exit_code: int
    document: dict[str, Any]
    message: str


class TriggerClient:
    def __init__(self, base_url: str, token: str, *, verify: bool | str = True, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session(token, verify=verify, user_agent="vcf-backup-webhook-trigger")
        self.timeout = timeout

    def _request(self, method: str, path: str, *, wait: float | None = None, **kwargs: Any) -> requests.Response:
        params = {"wait": f"{wait:.0f}"} if wait else None
        return self.session.request(method, self.base_url + path, params=params,
                                    timeout=self.timeout + (wait or 0), **kwargs)

    def run(
        self, body: dict[str, Any], *, wait: bool, timeout: float, progress: Callable[[str], None],
    ) -> TriggerOutcome:
        deadline = time.monotonic() + timeout
        try:
            response = self._request("POST", "/v1/triggers", json=body)
        except requests.RequestException as exc:
            return TriggerOutcome(ExitCode.UNAVAILABLE, {}, f"service unreachable: {type(exc).__name__}")
        if response.status_code >= 400:
            return _refused(response)
        view = response.json()
        progress(f"trigger {view['id']} accepted ({view['state']}); status: {view['statusUrl']}")
        last = ""
        while wait and view["state"] not in FINISHED:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return TriggerOutcome(ExitCode.TIMED_OUT, view.get("backup") or view,
                                      f"gave up waiting after {timeout:.0f} s; the backup goes on: {view['statusUrl']}")
            asked_at = time.monotonic()
            try:
                response = self._request("GET", f"/v1/triggers/{view['id']}", wait=max(1.0, min(5.0, remaining)))
            except requests.RequestException as exc:
                progress(f"service unreachable ({type(exc).__name__}); retrying")
                time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
                continue
            if response.status_code >= 500:
                progress(f"service answered {response.status_code}; retrying")
                time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
                continue
            if response.status_code >= 400:
                return _refused(response)
            view = response.json()
            backup = view.get("backup") or {}
            line = (f"{view['state']} backup {backup.get('backupId', '-')} task {backup.get('id', '-')} "
                    f"{backup.get('status', '')}")
            if line != last:
                progress(line)
                last = line
            if view["state"] not in FINISHED:
                pause_after_early_answer(asked_at, deadline)
        return _finished(view, waited=wait)


def _refused(response: requests.Response) -> TriggerOutcome:
    body = error_body(response)
    code = ExitCode.UNAVAILABLE if response.status_code >= 500 else ExitCode.REJECTED
    text = f"{response.status_code} {body.get('errorCode', '')}: {body.get('message', '')}"
    if body.get("remediationMessage"):
        text += f" -- {body['remediationMessage']}"
    return TriggerOutcome(code, body, text)


def _finished(view: dict[str, Any], *, waited: bool) -> TriggerOutcome:
    backup = view.get("backup") or {}
    if not waited:
        return TriggerOutcome(ExitCode.SUCCESS, view, f"trigger {view['id']} accepted")
    if view["state"] == "SKIPPED":
        return TriggerOutcome(ExitCode.SUCCESS, view, f"skipped: {view['trigger'].get('note')}")
    fanout = view.get("fanout")
    if fanout:  # one result per instance: 0 only if every instance succeeded
        done = ", ".join(f"{r.get('instance')} {r.get('status')}" for r in fanout.get("results", []))
        code = ExitCode.SUCCESS if fanout.get("outcome") == "success" else ExitCode.FAILED
        return TriggerOutcome(code, fanout, f"fan-out {fanout.get('outcome')}: {done}")
    status = backup.get("status", "")
    if backup.get("outcome") == "success":
        return TriggerOutcome(ExitCode.SUCCESS, backup, f"backup {status} (SDDC task {backup.get('id')})")
    errors = error_text(backup.get("errors"))
    code = ExitCode.TIMED_OUT if status == "TIMED_OUT" else ExitCode.FAILED
    return TriggerOutcome(code, backup, f"backup {status}: {errors or 'no error detail'}")
