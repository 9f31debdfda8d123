"""A real ``serve`` node (gunicorn + worker process) at its limits (issue 13): oversized chunked bodies,
a store that cannot be written at start."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

from webhook.adapters.store import SqlStore

from tests.conftest import API_TOKEN
from tests.support.node import ServeProcess


def chunks(total: int, size: int = 65536):
    sent = 0
    while sent < total:
        yield b'{"reason": "' + b"x" * (size - 13) + b'"}' if sent == 0 else b" " * size
        sent += size


def test_a_chunked_body_over_the_limit_is_413_not_cut_and_accepted(serve_env):
    node = ServeProcess(serve_env).start()
    try:
        body = (b'{"reason": "' + b"x" * (5 * 1024 * 1024) + b'"}')

        def stream():
            for start in range(0, len(body), 65536):
                yield body[start:start + 65536]

        try:
            answer = requests.post(node.url + "/v1/triggers", data=stream(), timeout=30,
                                   headers={"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"})
            status = answer.status_code
        except requests.ConnectionError:
            status = None  # the server may close while the client still sends: never a 202
        assert status in (413, None), status
        if status == 413:
            assert answer.json()["errorCode"] == "VCFBACKUP_PAYLOAD_TOO_LARGE"
        listed = requests.get(node.url + "/v1/triggers", headers={"Authorization": f"Bearer {API_TOKEN}"},
                              timeout=10).json()
        assert listed["items"] == []
    finally:
        node.kill()


def test_serve_refuses_to_start_on_a_store_it_cannot_write(serve_env, tmp_path):
    path = tmp_path / "readonly.db"
    SqlStore.from_url(f"sqlite:///{path}").engine.dispose()  # the tables exist: only a write can tell
    env = {**os.environ, **serve_env,
           "VCFBACKUP_DATABASE_URL": f"sqlite:///file:{path}?mode=ro&uri=true"}
    done = subprocess.run([sys.executable, "-m", "webhook", "serve"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert "cannot be written" in done.stderr and "VCFBACKUP_DATABASE_URL" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_removes_the_metrics_directory_it_made(serve_env):
    # A short TMPDIR: the doorbell's Unix sockets live there, and socket paths are limited to 108 bytes.
    scratch = Path(tempfile.mkdtemp(prefix="s13-", dir="/tmp"))
    try:
        node = ServeProcess({**serve_env, "TMPDIR": str(scratch)}).start()
        try:
            assert list(scratch.glob("vcf-backup-metrics-*"))
        finally:
            node.terminate()
        assert not list(scratch.glob("vcf-backup-metrics-*"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
