"""Regenerate the README's status page screenshots (docs/status-page*.png) from a month of made-up history.

    .venv/bin/python scripts/ui_screenshot.py

Needs Debian's chromium and chromium-driver. The store is filled directly (30 days: a nightly backup, a
few pre-change backups from Terraform and alert storms, two failures, one callback that gave up),
then a node in this process serves it and headless Chromium takes the pictures.
"""

from __future__ import annotations

import random
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from webhook.adapters.store import SqlStore, rows  # noqa: E402
from webhook.adapters.store.schema import backups, deliveries, triggers  # noqa: E402
from webhook.core.models import Error, Resource  # noqa: E402
from webhook.core.status import SddcContact  # noqa: E402
from webhook.core.triggers import (  # noqa: E402
    Backup,
    BackupState,
    CallbackTarget,
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    Trigger,
    TriggerState,
)
from webhook.settings import Settings  # noqa: E402
from webhook.sources.generic import default_spec  # noqa: E402

from tests.support.browser import chromium, screenshot  # noqa: E402
from tests.support.node import InProcessNode  # noqa: E402

TOKEN = "screenshot-token"
ASKERS = [("terraform", "tfc-workspace-vcf-mgmt", "terraform apply: run-4711 (vcf-mgmt)"),
          ("alertmanager", "alertmanager", "VcfDatastoreUsageHigh firing (3 alerts)"),
          ("slack", "U024BE7LH (anna)", "before patching ESXi hosts"),
          ("generic", "ci", "nightly"),
          ("terraform-run-task", "hcp-terraform", "run-task pre_apply: ws-vcf-edge")]


def fill(store: SqlStore, now: datetime) -> None:
    rng = random.Random(7)
    b_rows, t_rows, d_rows = [], [], []
    for day in range(30, -1, -1):
        for slot in range(1 + (day % 3 == 0) + (day % 7 == 2)):
            start = (now - timedelta(days=day)).replace(hour=1 + 6 * slot, minute=rng.randint(0, 59))
            if start > now - timedelta(minutes=20):
                continue
            state = BackupState.SUCCESSFUL
            if day in (12, 4) and slot == 0:
                state = BackupState.FAILED if day == 12 else BackupState.TIMED_OUT
            minutes = rng.uniform(9, 16) if state is not BackupState.TIMED_OUT else 180
            errors = [] if state.is_success else [Error(
                errorCode="SFTP_TRANSFER_FAILED", message="Unable to transfer the backup file to sftp.example.com:22: "
                "connection timed out", remediationMessage="Check that sftp.example.com is reachable from SDDC "
                "Manager on port 22 and that the backup user may write to /backups/vcf.")]
            backup = Backup(spec=default_spec(), state=state, sddc_task_id=str(uuid.UUID(int=rng.getrandbits(128))),
                            name="SDDC Manager Backup", sddc_status=state.value.title(), created_at=start,
                            submitted_at=start, completed_at=start + timedelta(minutes=minutes), errors=errors,
                            resources=[Resource(type="SDDC_MANAGER", name="sddc-manager.example.com")])
            b_rows.append(rows.backup_row(backup))
            riders = 1 if slot == 0 and day % 5 else rng.choice((2, 3, 5, 40))
            for k in range(riders):
                source, caller, reason = ASKERS[3] if slot == 0 and riders == 1 else ASKERS[(day + k) % len(ASKERS)]
                at = start - timedelta(seconds=rng.uniform(0.2, 5))
                trigger = Trigger(source=source, caller=caller, spec=backup.spec, reason=reason, received_at=at,
                                  state=TriggerState.DONE, backup_id=backup.id, completed_at=backup.completed_at,
                                  callback=CallbackTarget(url="https://ci.example.com/hooks/backup-done"))
                t_rows.append(rows.trigger_row(trigger))
                lost = day == 4 and k == 0
                attempts = [DeliveryAttempt(at=backup.completed_at, status_code=503 if lost else 200, duration_ms=31)]
                d_rows.append(rows.delivery_row(Delivery(
                    trigger_id=trigger.id, target=trigger.callback, body={}, created_at=backup.completed_at,
                    next_attempt_at=backup.completed_at, give_up_at=backup.completed_at,
                    state=DeliveryState.GAVE_UP if lost else DeliveryState.DELIVERED,
                    attempts=attempts * (9 if lost else 1), last_error="HTTP 503" if lost else None)))
    with store.engine.begin() as conn:
        conn.execute(backups.insert(), b_rows)
        conn.execute(triggers.insert(), t_rows)
        conn.execute(deliveries.insert(), d_rows)
    store.record_sddc_contact(SddcContact("default", True, now - timedelta(seconds=12)))


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="ui-screenshot-"))
    now = datetime.now(UTC)
    settings = Settings(database_url=f"sqlite:///{work / 'store.db'}", api_tokens={"ops": TOKEN},
                        sddc_url="http://127.0.0.1:9", log_level="WARNING", sddc_probe_interval=0)
    store = SqlStore.from_url(settings.database_url)
    fill(store, now)
    node = InProcessNode(settings, start_workers=False).start()
    store.heartbeat("wrk_screenshot", now)
    try:
        with chromium() as driver:
            driver.get(node.url + "/ui/login")
            driver.find_element("id", "token").send_keys(TOKEN)
            driver.find_element("css selector", "form.login button").click()
            driver.get(node.url + "/ui/")
            docs = ROOT / "docs"
            for name, kwargs in (("status-page", {"width": 1180}),
                                 ("status-page-phone-dark", {"width": 390, "mobile": True, "dark": True})):
                shot = screenshot(driver, name, **kwargs)
                (docs / f"{name}.png").write_bytes(shot.read_bytes())
                print(f"wrote docs/{name}.png")
    finally:
        node.stop()


if __name__ == "__main__":
    main()
