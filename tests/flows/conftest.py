from __future__ import annotations

import pytest

from tests.conftest import API_TOKEN, SIGNING_SECRET
from tests.support.node import serve_environment


@pytest.fixture
def serve_env(tmp_path, simulator, receiver):
    return serve_environment(tmp_path / "serve.db", simulator.url, receiver.host, API_TOKEN, SIGNING_SECRET)


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 (pytest's hook signature)
    """Say where the status page's screenshots went (test artifacts, ignored by git)."""
    from tests.support.browser import ARTIFACTS, TAKEN

    if TAKEN:
        terminalreporter.write_line(f"status page screenshots ({len(TAKEN)}): {ARTIFACTS}/")
        for path in TAKEN:
            terminalreporter.write_line(f"  {path.name}")
