"""The worker loop's process stays small (issue 17): no Slack SDK loaded, SQLite's caches capped.

Each check runs in a fresh interpreter: ``sys.modules`` of the test process holds everything, and
SQLite's soft heap limit is process-wide.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SETTINGS = ("Settings(database_url={url!r}, sddc_url='https://127.0.0.1:9', sddc_username='admin@local', "
            "sddc_password='VMware123!VMware123!', slack_signing_secret='s' * 32, "
            "slack_response_hosts=['127.0.0.1'], tfc_hmac_key='k' * 32, tfc_hosts=['127.0.0.1'])")


def run(code: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_worker_loop_builds_without_the_slack_sdk(tmp_path: Path):
    """slack_sdk (about 2 MB) is only needed to verify a slash command, which the worker never does."""
    settings = SETTINGS.format(url=f"sqlite:///{tmp_path / 'w.db'}")
    seen = run("import json, sys\n"
               "from webhook.settings import Settings\n"
               "from webhook.wiring import build_worker, build_worker_store\n"
               f"settings = {settings}\n"
               "store = build_worker_store(settings)\n"
               "build_worker(settings, store)\n"
               "print(json.dumps({'slack_sdk': sorted(m for m in sys.modules if m.startswith('slack_sdk')),\n"
               "                  'slack_notifier': 'webhook.adapters.slack_notifier' in sys.modules}))")
    assert seen == {"slack_sdk": [], "slack_notifier": True}


def test_a_slack_signature_is_still_verified_with_the_sdk_loaded_late():
    import hashlib
    import hmac

    import pytest

    from webhook.core.errors import Unauthenticated
    from webhook.sources.slack import verify_request

    body, now = b"team_id=T1&text=backup", 1_700_000_000
    base = f"v0:{now}:".encode() + body
    signature = "v0=" + hmac.new(b"secret", base, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": signature}
    verify_request("secret", body, headers, now)
    with pytest.raises(Unauthenticated):
        verify_request("other secret", body, headers, now)


def test_only_the_worker_loops_store_caps_sqlites_memory(tmp_path: Path):
    settings = SETTINGS.format(url=f"sqlite:///{tmp_path / 's.db'}")
    probe = ("import json\n"
             "import sqlalchemy as sa\n"
             "from webhook.settings import Settings\n"
             "from webhook.wiring import {build}\n"
             f"store = {{build}}({settings})\n"
             "with store.engine.connect() as conn:\n"
             "    limit = conn.execute(sa.text('PRAGMA soft_heap_limit')).scalar()\n"
             "    raw = conn.connection.driver_connection\n"
             "    for i in range(200):  # more distinct statements than the cap: all still run\n"
             "        assert raw.execute(f'SELECT {{i}} + 0').fetchone() == (i,)\n"
             "print(json.dumps({{'limit': limit}}))")
    assert run(probe.format(build="build_worker_store")) == {"limit": 2 * 1024 * 1024}
    assert run(probe.format(build="build_store")) == {"limit": 0}
