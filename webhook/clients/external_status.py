"""``vcf-backup-webhook tf-status``: a program for Terraform's ``external`` data source.

The protocol (hashicorp/external): read all of stdin as ONE JSON object whose values are strings,
write ONE JSON object whose values are all strings to stdout and exit 0; on error write a message
for a person to stderr and exit non-zero (Terraform then shows that message and ignores stdout).
Terraform runs it at every plan and refresh, so it only reads: ``GET /v1/backups/latest``.

The URL and token come from ``VCFBACKUP_TRIGGER_URL`` / ``VCFBACKUP_TRIGGER_TOKEN`` in Terraform's
environment (the program inherits it). ``query.url`` may override the URL; a token in ``query``
is refused, because the data source's query is stored in the Terraform state.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

import requests

from .http import ClientEnvironment, ExitCode

QUERY_KEYS = {"url": "service base URL (default VCFBACKUP_TRIGGER_URL)",
              "ca_bundle": "CA bundle file for the service's TLS certificate (default VCFBACKUP_TRIGGER_CA_BUNDLE)",
              "timeout": "seconds to wait for the service (default 10)"}


class StatusError(Exception):
    def __init__(self, message: str, exit_code: int = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def read_query(text: str) -> dict[str, str]:
    """The data source's ``query``: a JSON object of strings (``{}`` when Terraform sends none)."""
    try:
        query = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise StatusError(f"stdin is not JSON ({exc.msg}); the external data source sends a JSON object",
                          ExitCode.REJECTED) from None
    if not isinstance(query, dict) or not all(isinstance(v, str) for v in query.values()):
        raise StatusError("stdin must be one JSON object whose values are strings", ExitCode.REJECTED)
    if "token" in query:
        raise StatusError("do not put the token in `query` (Terraform stores the query in its state); "
                          "set VCFBACKUP_TRIGGER_TOKEN in Terraform's environment instead", ExitCode.REJECTED)
    unknown = sorted(set(query) - set(QUERY_KEYS))
    if unknown:
        known = "; ".join(f"{k}: {v}" for k, v in QUERY_KEYS.items())
        raise StatusError(f"unknown query key {unknown[0]!r} (known keys: {known})", ExitCode.REJECTED)
    return query


def latest_backup(url: str, token: str, *, verify: bool | str = True, timeout: float = 10.0) -> dict[str, Any]:
    """``GET {url}/v1/backups/latest``; a StatusError that says what to do when it is not 200."""
    try:
        response = requests.get(
            url.rstrip("/") + "/v1/backups/latest", timeout=timeout, verify=verify,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "vcf-backup-webhook-tf-status"})
    except requests.RequestException as exc:
        raise StatusError(f"the service at {url} is unreachable ({type(exc).__name__})", ExitCode.UNAVAILABLE) from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code == 200 and isinstance(body, dict):
        return body
    detail = f"{body.get('message', '')} {body.get('remediationMessage', '')}".strip() if isinstance(body, dict) else ""
    code = ExitCode.UNAVAILABLE if response.status_code >= 500 else ExitCode.FAILED
    if response.status_code in (401, 403):
        code = ExitCode.REJECTED
    raise StatusError(f"the service answered {response.status_code}" + (f": {detail}" if detail else ""), code)


def result_of(backup: dict[str, Any], url: str) -> dict[str, str]:
    """Flatten the latest backup into the strings-only object the external data source needs."""
    age = int(backup.get("ageSeconds") or 0)
    return {
        "status": str(backup.get("status") or ""),
        "backup_id": str(backup.get("backupId") or ""),
        "sddc_task_id": str(backup.get("id") or ""),
        "started_at": str(backup.get("startedAt") or ""),
        "completed_at": str(backup.get("completedAt") or ""),
        "age_seconds": str(age),
        "age_minutes": str(age // 60),
        "adopted": "true" if backup.get("adopted") else "false",
        "service_url": url,
    }


def run(stdin: str) -> dict[str, str]:
    """The whole program minus I/O: raises StatusError with the message for stderr."""
    query = read_query(stdin)
    env = ClientEnvironment.read()
    url = query.get("url") or env.url
    token = env.token or ""
    if not url or not token:
        raise StatusError("set VCFBACKUP_TRIGGER_URL (or query.url) and VCFBACKUP_TRIGGER_TOKEN in Terraform's "
                          "environment", ExitCode.REJECTED)
    try:
        timeout = float(query.get("timeout") or 10)
    except ValueError:
        raise StatusError("query.timeout must be a number of seconds", ExitCode.REJECTED) from None
    verify: bool | str = query.get("ca_bundle") or env.ca_bundle or True
    return result_of(latest_backup(url, token, verify=verify, timeout=timeout), url)


def main(stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    try:
        result = run(stdin.read())
    except StatusError as exc:
        stderr.write(f"vcf-backup-webhook tf-status: {exc.message}\n")
        return exc.exit_code
    stdout.write(json.dumps(result) + "\n")
    return ExitCode.SUCCESS
