"""Newcomer fixes (issue 13, point 9): ``check`` says what it is doing and what is wrong in plain words,
and ``demo`` leaves no temporary files behind (``serve``: tests/flows/test_serve_limits.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.test_cli import run


def test_check_shows_progress_and_a_plain_message_for_a_url_without_a_scheme(simulator, tmp_path):
    host = simulator.url.split("://", 1)[1]
    result = run("check", env={"VCFBACKUP_SDDC_URL": host, "VCFBACKUP_SDDC_USERNAME": "admin@local",
                               "VCFBACKUP_SDDC_PASSWORD": "VMware123!VMware123!",
                               "VCFBACKUP_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"})
    assert result.returncode == 1
    assert "Checking the store" in result.stdout
    assert f"is not a URL with a scheme; write it as https://{host}" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    good = run("check", env={"VCFBACKUP_SDDC_URL": simulator.url, "VCFBACKUP_SDDC_USERNAME": "admin@local",
                             "VCFBACKUP_SDDC_PASSWORD": "VMware123!VMware123!",
                             "VCFBACKUP_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"})
    assert "Logging in to SDDC Manager at" in good.stdout


def test_demo_leaves_no_temporary_files(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "webhook", "demo", "--once", "--port", "0", "--backup-seconds",
                           "0.5"], env=env, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not list(tmp_path.glob("vcf-backup-demo-*")), list(tmp_path.iterdir())


def test_demo_stopped_with_sigterm_leaves_no_temporary_files(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    demo = subprocess.Popen([sys.executable, "-m", "webhook", "demo", "--no-auto", "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert demo.stdout is not None
        for line in demo.stdout:  # ends at EOF if the demo dies early
            if "Press Ctrl-C to stop" in line:
                break
        assert list(tmp_path.glob("vcf-backup-demo-*")), "the demo made no store"
        demo.send_signal(signal.SIGTERM)  # `kill`, or a container stopping
        demo.wait(30)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)
        if demo.stdout is not None:
            demo.stdout.close()
    assert not list(tmp_path.glob("vcf-backup-demo-*")), list(tmp_path.iterdir())
