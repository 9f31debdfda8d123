"""Worker steps against a real SQLite store and a scripted SDDC Manager (no network)."""

from __future__ import annotations

import pytest

from webhook.adapters.store import SqlStore
from webhook.core.callbacks import CallbackPolicy, HostAllowlist
from webhook.core.deliveries import DeliveryPolicy
from webhook.core.errors import SddcManagerError, SddcManagerUnreachable
from webhook.core.models import Error
from webhook.core.service import TriggerService
from webhook.core.triggers import AttemptResult, BackupState, TriggerState
from webhook.core.worker import Worker, WorkerConfig
from webhook.sources import generic

from tests.fakes import FakeClock, FakeSddc, RecordingNotifier


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def store(tmp_path):
    return SqlStore.from_url(f"sqlite:///{tmp_path / 'w.db'}")


@pytest.fixture
def service(store, clock):
    return TriggerService(store, clock, CallbackPolicy(HostAllowlist.of(["cb.example.com"])))


def make_worker(store, clock, sddc, notifier=None, **config):
    return Worker(store, sddc, notifier or RecordingNotifier(), clock,
                  WorkerConfig(poll_initial=1, poll_max=1, submit_retry_delay=1, **config),
                  DeliveryPolicy(budget_seconds=100, initial_backoff=1, max_backoff=4))


def accept(service, clock, **body):
    body.setdefault("callbackUrl", "https://cb.example.com/done")
    import json
    parsed = generic.parse_body(json.dumps(body).encode())
    return service.accept(generic.to_trigger(parsed, caller="ci", received_at=clock.now(), headers={})).trigger


def run_until_quiet(worker, clock, steps=20):
    for _ in range(steps):
        worker.run_once()
        clock.advance(1.5)


def test_triggers_coalesce_onto_one_backup(service, store, clock):
    sddc, notifier = FakeSddc(["In Progress", "In Progress", "Successful"]), RecordingNotifier()
    worker = make_worker(store, clock, sddc, notifier)
    first = accept(service, clock)
    worker.run_once()  # opens and submits
    late = accept(service, clock)  # arrives while the backup runs
    run_until_quiet(worker, clock)
    assert len(sddc.started) == 1
    assert {d.trigger_id for d in notifier.sent} == {first.id, late.id}
    assert store.get_trigger(late.id).state is TriggerState.DONE


def test_crash_after_post_adopts_the_running_task_instead_of_posting_again(service, store, clock):
    sddc = FakeSddc(["In Progress", "Successful"])
    sddc.crash_after_start = True
    worker = make_worker(store, clock, sddc)
    trigger = accept(service, clock)
    with pytest.raises(RuntimeError):
        worker.run_once()  # the POST reached SDDC Manager, then the process "died"
    sddc.crash_after_start = False
    store.release_leases(worker.owner)  # what a restart amounts to: the old lease is gone
    restarted = make_worker(store, clock, sddc)
    run_until_quiet(restarted, clock)
    assert len(sddc.started) == 1
    backup = store.get_backup(store.get_trigger(trigger.id).backup_id)
    assert backup.state is BackupState.SUCCESSFUL
    assert backup.sddc_task_id == "task-1"


def test_a_backup_already_running_in_sddc_manager_is_adopted(service, store, clock):
    sddc = FakeSddc(["In Progress", "Successful"])
    sddc.start_backup(generic.default_spec())  # a scheduled backup nobody asked us for
    worker = make_worker(store, clock, sddc)
    trigger = accept(service, clock)
    run_until_quiet(worker, clock)
    assert len(sddc.started) == 1
    backup = store.get_backup(store.get_trigger(trigger.id).backup_id)
    assert backup.adopted and backup.state is BackupState.SUCCESSFUL


def test_definitive_refusal_fails_the_trigger_with_sddc_managers_error(service, store, clock):
    sddc, notifier = FakeSddc(), RecordingNotifier()
    sddc.start_error = SddcManagerError("400", http_status=400, error=Error(
        errorCode="BACKUP_NOT_CONFIGURED", message="No backup location", remediationMessage="Configure SFTP"))
    worker = make_worker(store, clock, sddc, notifier)
    accept(service, clock)
    run_until_quiet(worker, clock, 3)
    [delivery] = notifier.sent
    assert delivery.body["status"] == "SUBMIT_FAILED"
    assert delivery.body["errors"][0]["remediationMessage"] == "Configure SFTP"


def test_unknown_submit_outcome_is_checked_before_posting_again(service, store, clock):
    sddc, notifier = FakeSddc(["Successful"]), RecordingNotifier()
    sddc.start_error = SddcManagerUnreachable("timeout")
    worker = make_worker(store, clock, sddc, notifier, submit_max_attempts=3)
    accept(service, clock)
    worker.run_once()
    assert sddc.started == []
    sddc.start_error = None
    run_until_quiet(worker, clock)
    assert len(sddc.started) == 1
    assert notifier.sent[0].body["status"] == "SUCCESSFUL"


def test_backup_that_never_ends_times_out(service, store, clock):
    sddc, notifier = FakeSddc(["In Progress"]), RecordingNotifier()
    worker = make_worker(store, clock, sddc, notifier, backup_timeout=5)
    accept(service, clock)
    run_until_quiet(worker, clock, 10)
    assert notifier.sent[0].body["status"] == "TIMED_OUT"
    assert "did not finish" in notifier.sent[0].body["errors"][0]["message"]
    assert store.active_backup() is None


def test_failed_deliveries_are_retried_then_given_up_with_every_attempt_recorded(service, store, clock):
    failures = [AttemptResult(ok=False, status_code=503, error="receiver answered 503")] * 100
    notifier = RecordingNotifier(failures)
    worker = make_worker(store, clock, FakeSddc(["Successful"]), notifier)
    trigger = accept(service, clock)
    for _ in range(200):
        worker.run_once()
        clock.advance(2)
    [delivery] = store.deliveries_of_trigger(trigger.id)
    assert delivery.state.value == "GAVE_UP"
    assert len(delivery.attempts) == len(notifier.sent) > 3
    assert all(a.status_code == 503 for a in delivery.attempts)


def test_reuse_if_newer_than_completes_at_once_with_the_recent_backup(service, store, clock):
    sddc, notifier = FakeSddc(["Successful"]), RecordingNotifier()
    worker = make_worker(store, clock, sddc, notifier)
    accept(service, clock)
    run_until_quiet(worker, clock, 4)
    reused = accept(service, clock, reuseIfNewerThan="15m")
    worker.run_once()
    assert len(sddc.started) == 1
    assert store.get_trigger(reused.id).state is TriggerState.DONE
    assert "Reused backup" in notifier.sent[-1].body["note"]


def test_two_workers_on_one_store_start_one_backup(service, store, clock):
    sddc = FakeSddc(["In Progress", "Successful"])
    workers = [make_worker(store, clock, sddc) for _ in range(3)]
    for _ in range(5):
        accept(service, clock)
    for _ in range(10):
        for worker in workers:
            worker.run_once()
        clock.advance(1.5)
    assert len(sddc.started) == 1


def test_history_past_retention_is_pruned_but_nothing_owed(service, store, clock):
    failing = RecordingNotifier([AttemptResult(ok=False, status_code=503)] * 1000)
    worker = Worker(store, FakeSddc(["Successful"]), failing, clock,
                    WorkerConfig(poll_initial=1, poll_max=1, retention=3600, prune_every=0),
                    DeliveryPolicy(budget_seconds=86400, initial_backoff=1, max_backoff=4))
    owed = accept(service, clock)  # its callback keeps failing: must survive pruning
    run_until_quiet(worker, clock, 4)
    quiet = accept(service, clock, callbackUrl=None, reuseIfNewerThan="1h")
    run_until_quiet(worker, clock, 2)
    assert store.get_trigger(quiet.id).state is TriggerState.DONE
    clock.advance(7200)
    worker.run_once()
    assert store.get_trigger(quiet.id) is None
    assert store.get_trigger(owed.id) is not None
    assert store.get_backup(store.get_trigger(owed.id).backup_id) is not None
