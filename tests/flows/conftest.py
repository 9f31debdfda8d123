from __future__ import annotations

import pytest

from tests.conftest import API_TOKEN, SIGNING_SECRET


@pytest.fixture
def serve_env(tmp_path, simulator, receiver):
    return {
        "VCFBACKUP_SDDC_URL": simulator.url,
        "VCFBACKUP_SDDC_USERNAME": "admin@local",
        "VCFBACKUP_SDDC_PASSWORD": "VMware123!VMware123!",
        "VCFBACKUP_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "VCFBACKUP_API_TOKENS": f"ci:{API_TOKEN}",
        "VCFBACKUP_CALLBACK_ALLOWED_HOSTS": receiver.host,
        "VCFBACKUP_CALLBACK_ALLOW_HTTP": "true",
        "VCFBACKUP_CALLBACK_SIGNING_SECRET": SIGNING_SECRET,
        "VCFBACKUP_POLL_INTERVAL": "0.3",
        "VCFBACKUP_POLL_MAX_INTERVAL": "0.5",
        "VCFBACKUP_WORKER_LEASE": "2s",
        "VCFBACKUP_LOG_LEVEL": "DEBUG",
    }


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 (pytest's hook signature)
    """Say where the status page's screenshots went (test artifacts, ignored by git)."""
    from tests.support.browser import ARTIFACTS, TAKEN

    if TAKEN:
        terminalreporter.write_line(f"status page screenshots ({len(TAKEN)}): {ARTIFACTS}/")
        for path in TAKEN:
            terminalreporter.write_line(f"  {path.name}")
