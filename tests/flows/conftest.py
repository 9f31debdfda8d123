from __future__ import annotations

import pytest

from tests.conftest import API_TOKEN, SIGNING_SECRET
from tests.support.node import serve_environment


@pytest.fixture
def serve_env(tmp_path, simulator, receiver):
    return serve_environment(tmp_path / "serve.db", simulator.url, receiver.host, API_TOKEN, SIGNING_SECRET)
