"""Worker steps against a real SQLite store and a scripted SDDC Manager (no network)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest

from webhook.adapters.store import SqlStore
from webhook.core.callbacks import CallbackPolicy, HostAllowlist
from webhook.core.delivery_policy import DeliveryPolicy
from webhook.core.errors import SddcManagerError, SddcManagerUnreachable
from webhook.core.models import Error
from webhook.core.service import TriggerService
from webhook.core.triggers import AttemptResult, BackupState, TriggerState
from webhook.core.worker import Worker, WorkerConfig
from webhook.sources import generic

from tests.fakes import FakeClock, FakeSddc, RecordingNotifier, SimulatedCrash
from tests.support.logs import Records


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
                  WorkerConfig(**{"poll_initial": 1, "poll_max": 1, "submit_retry_delay": 1, **config}),
                  DeliveryPolicy(budget_seconds=100, initial_backoff=1, max_backoff=4))


@pytest.fixture
def worker_log():
    """Every record of the worker's logger, whatever the ``webhook`` logger's handlers and propagation."""
    logger, handler = logging.getLogger("webhook.worker"), Records()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)
    logger.setLevel(level)


def events(records, event):
    return [r for r in records if getattr(r, "event", None) == event]


def accept(service, clock, **body):
    body.setdefault("callbackUrl", "https://cb.example.com/done")
    import json
    parsed = generic.parse_body(json.dumps(body).encode())
    return service.accept(generic.to_trigger(parsed, caller="ci", received_at=clock.now(), headers={})).trigger


def run_until_quiet(worker, clock, steps=20):
    for _ in range(steps):
        worker.run_once()
        clock.advance(1.5)


def ringing_service(store, clock, rings: list[str]) -> TriggerService:
    """A service whose doorbell rings into ``rings``, on a store that attaches riders at intake."""
    store.ride_at_intake(frozenset())
    return TriggerService(store, clock, CallbackPolicy(HostAllowlist.of(["cb.example.com"])),
                          wake=lambda: rings.append("ring"))


@pytest.mark.parametrize("at_intake", [False, True], ids=["attached-by-the-worker", "attached-at-intake"])
def test_triggers_coalesce_onto_one_backup(service, store, clock, at_intake):
    rings: list[str] = []
    service = ringing_service(store, clock, rings) if at_intake else service
    sddc, notifier = FakeSddc(["In Progress", "In Progress", "Successful"]), RecordingNotifier()
    worker = make_worker(store, clock, sddc, notifier)
    first = accept(service, clock)
    worker.run_once()  # opens and submits
    late = accept(service, clock)  # arrives while the backup runs
    if at_intake:  # stored ATTACHED: the worker has nothing to do for it, so nothing rings for it
        assert (late.state, late.backup_id) == (TriggerState.ATTACHED, store.get_trigger(first.id).backup_id)
        assert rings == ["ring"]
    run_until_quiet(worker, clock)
    assert len(sddc.started) == 1
    assert {d.trigger_id for d in notifier.sent} == {first.id, late.id}
    assert store.get_trigger(late.id).state is TriggerState.DONE


def test_a_rider_stored_attached_that_owes_a_message_now_still_wakes_the_worker(store, clock):
    from webhook.core.triggers import Backup, Delivery, DeliveryEvent

    rings: list[str] = []
    service = ringing_service(store, clock, rings)
    store.open_backup(Backup(spec=generic.default_spec(), created_at=clock.now()))
    rider = accept(service, clock)
    owing = generic.to_trigger(generic.parse_body(b"{}"), caller="ci", received_at=clock.now(), headers={})
    owed = Delivery(trigger_id=owing.id, event=DeliveryEvent.DEADLINE, target=rider.callback, body={},
                    created_at=clock.now(), next_attempt_at=clock.now(), give_up_at=clock.now())
    stored = service.accept(owing, [owed]).trigger
    assert rider.state is TriggerState.ATTACHED and stored.state is TriggerState.ATTACHED
    assert rings == ["ring"]  # the second's: its delivery is due now


def test_a_backup_with_more_riders_than_a_page_completes_every_one_a_page_at_a_time(service, store, clock):
    sddc, notifier = FakeSddc(["In Progress", "Successful"]), RecordingNotifier()
    worker = make_worker(store, clock, sddc, notifier, batch=3)
    riders = [accept(service, clock, reason=f"r{i}") for i in range(8)]
    run_until_quiet(worker, clock)
    assert len(sddc.started) == 1
    assert {store.get_trigger(t.id).state for t in riders} == {TriggerState.DONE}
    assert sorted(d.trigger_id for d in notifier.sent) == sorted(t.id for t in riders)  # once each


def test_a_page_of_riders_the_store_does_not_finish_ends_the_backups_completion(service, store, clock, monkeypatch):
    """The page loop stops when a page comes back unfinished (the sweep sees to it) instead of spinning."""
    sddc = FakeSddc(["In Progress", "Successful"])
    worker = make_worker(store, clock, sddc, batch=3)
    riders = [accept(service, clock, reason=f"r{i}") for i in range(8)]
    worker.run_once()  # opens, submits and attaches every rider
    pages = []
    real_page = store.triggers_of_backup

    def counted(*args, **kwargs):
        page = real_page(*args, **kwargs)
        pages.append(len(page))
        assert len(pages) < 10, "the page loop spins"
        return page

    monkeypatch.setattr(store, "triggers_of_backup", counted)
    monkeypatch.setattr(store, "complete_triggers", lambda *args, **kwargs: [])  # another worker's, say
    run_until_quiet(worker, clock, steps=4)
    assert pages[:2] == [3, 3]  # the first page again: not finished, so the loop ended there
    assert {store.get_trigger(t.id).state for t in riders} == {TriggerState.ATTACHED}


def test_crash_after_post_adopts_the_running_task_instead_of_posting_again(service, store, clock):
    sddc = FakeSddc(["In Progress", "Successful"])
    sddc.crash_after_start = True
    worker = make_worker(store, clock, sddc)
    trigger = accept(service, clock)
    with pytest.raises(SimulatedCrash):
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


def test_unreachable_sddc_manager_defers_the_submit_without_posting(service, store, clock, worker_log):
    sddc, notifier = FakeSddc(["Successful"]), RecordingNotifier()
    sddc.list_error = SddcManagerUnreachable("connection refused")
    worker = make_worker(store, clock, sddc, notifier, submit_retry_delay=10)
    trigger = accept(service, clock)
    worker.run_once()  # opens the backup; the "is a backup already running?" check fails
    backup = store.get_backup(store.get_trigger(trigger.id).backup_id)
    assert sddc.started == []
    assert backup.state is BackupState.SUBMITTING
    assert backup.submit_attempts == 0 and backup.submit_started_at is None
    assert abs((backup.next_poll_at - (clock.now() + timedelta(seconds=10))).total_seconds()) < 0.01
    assert backup.errors[0].errorCode == "VCFBACKUP_SDDC_MANAGER_UNREACHABLE"
    [deferred] = [r for r in worker_log if r.levelno >= logging.WARNING]
    assert deferred.event == "backup.submit_deferred" and deferred.backup_id == backup.id
    assert deferred.error == "connection refused" and deferred.exc_info is None
    # Not due again until the retry delay: the loop sleeps instead of asking SDDC Manager again.
    assert abs((store.next_due() - backup.next_poll_at).total_seconds()) < 0.01
    lists = sddc.lists
    worker.run_once()
    clock.advance(9)
    worker.run_once()
    assert sddc.lists == lists
    sddc.list_error = None  # SDDC Manager is back
    clock.advance(1)
    run_until_quiet(worker, clock)
    assert len(sddc.started) == 1
    backup = store.get_backup(backup.id)
    assert backup.state is BackupState.SUCCESSFUL and backup.submit_attempts == 1 and not backup.adopted
    assert store.get_trigger(trigger.id).state is TriggerState.DONE
    assert [d.body["status"] for d in notifier.sent] == ["SUCCESSFUL"]


def test_unreachable_check_after_an_unknown_submit_never_posts_blindly(service, store, clock):
    sddc = FakeSddc(["Successful"])
    sddc.start_error = SddcManagerUnreachable("timeout")
    worker = make_worker(store, clock, sddc, submit_max_attempts=3)
    trigger = accept(service, clock)
    worker.run_once()  # the POST's outcome is unknown
    sddc.start_error, sddc.list_error = None, SddcManagerUnreachable("connection refused")
    for _ in range(3):  # a POST now would succeed, but we cannot check whether the first one did
        clock.advance(1)
        worker.run_once()
    backup = store.get_backup(store.get_trigger(trigger.id).backup_id)
    assert sddc.started == []
    assert backup.state is BackupState.SUBMITTING and backup.submit_attempts == 1
    sddc.list_error = None
    run_until_quiet(worker, clock)
    assert len(sddc.started) == 1
    assert store.get_backup(backup.id).state is BackupState.SUCCESSFUL


def test_sddc_manager_unreachable_past_the_backup_timeout_fails_the_submit(service, store, clock, worker_log):
    sddc, notifier = FakeSddc(), RecordingNotifier()
    sddc.list_error = SddcManagerUnreachable("connection refused")
    worker = make_worker(store, clock, sddc, notifier, backup_timeout=30, submit_retry_delay=10)
    trigger = accept(service, clock)
    start = clock.now()
    while (clock.now() - start).total_seconds() <= 30:
        worker.run_once()
        assert store.get_backup(store.get_trigger(trigger.id).backup_id).state is BackupState.SUBMITTING
        clock.advance(10)
    worker.run_once()  # 40 s old and SDDC Manager still down: give up
    worker.run_once()
    done = store.get_trigger(trigger.id)
    backup = store.get_backup(done.backup_id)
    assert backup.state is BackupState.SUBMIT_FAILED and backup.completed_at == clock.now()
    assert backup.errors[0].errorCode == "VCFBACKUP_SDDC_MANAGER_UNREACHABLE"
    assert done.state is TriggerState.DONE
    [delivery] = notifier.sent
    assert delivery.body["status"] == "SUBMIT_FAILED"
    assert delivery.body["errors"][0]["errorCode"] == "VCFBACKUP_SDDC_MANAGER_UNREACHABLE"
    assert sddc.started == []
    assert len(events(worker_log, "backup.submit_deferred")) == 4  # at 0, 10, 20 and 30 s
    assert len(events(worker_log, "backup.submit_failed")) == 1
    assert not any(r.exc_info for r in worker_log)


def test_a_failing_cycle_backs_off_instead_of_spinning(store, clock, worker_log):
    worker = make_worker(store, clock, FakeSddc())
    calls = []

    def broken() -> bool:
        calls.append(time.monotonic())
        raise RuntimeError("database on fire")

    worker.run_once = broken
    stop = threading.Event()
    loop = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
    loop.start()
    time.sleep(0.5)
    stop.set()
    stopped = time.monotonic()
    loop.join(timeout=2)
    assert not loop.is_alive() and time.monotonic() - stopped < 0.5  # shutdown cuts the back-off short
    assert len(calls) == 1
    [failed] = events(worker_log, "worker.cycle_failed")
    assert failed.exc_info is not None and failed.retry_in == 1.0


class _InstantStop(threading.Event):
    """A stop event whose waits return at once and are recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        return self.is_set()


def test_the_back_off_grows_to_the_max_and_resets_after_a_good_cycle(store, clock, worker_log):
    worker = make_worker(store, clock, FakeSddc())
    stop = _InstantStop()
    script = ["fail"] * 7 + ["ok", "fail"]

    def scripted() -> bool:
        if not script:
            stop.set()
            return True
        if script.pop(0) == "fail":
            raise RuntimeError("database on fire")
        return True

    worker.run_once = scripted
    worker.run_forever(stop)
    assert stop.waits == [1, 2, 4, 8, 16, 30, 30, 1]
    assert [r.failures for r in events(worker_log, "worker.cycle_failed")] == [1, 2, 3, 4, 5, 6, 7, 1]


def test_a_pass_that_left_no_work_behind_does_not_ask_for_another_at_once(service, store, clock):
    sddc = FakeSddc(["In Progress"] * 50)
    worker = make_worker(store, clock, sddc, batch=3)
    accept(service, clock)
    worker.run_once()  # opens and submits the backup
    for _ in range(2):
        accept(service, clock)

    assert worker.run_once() is False  # two riders attached, nothing left: wait for the doorbell
    for _ in range(4):
        accept(service, clock)
    assert worker.run_once() is True  # a full batch: more may wait, go again
    assert worker.run_once() is False
    stored = store.list_triggers(source=None, state=None, since=None, limit=50)
    assert len(stored) == 7 and all(t.state is TriggerState.ATTACHED for t in stored)


def test_the_worker_gathers_longer_while_triggers_only_ride_on_a_running_backup(service, store, clock):
    sddc = FakeSddc(["In Progress", "In Progress", "Successful"])
    worker = make_worker(store, clock, sddc)
    accept(service, clock)
    worker.run_once()
    assert worker.attaching.riding is False  # this trigger opened the backup: its POST must not wait
    accept(service, clock)
    worker.run_once()
    assert worker.attaching.riding is True
    run_until_quiet(worker, clock, 4)  # the backup ends
    assert worker.attaching.riding is False


def test_stranded_triggers_are_looked_for_now_and_then_not_on_every_pass(service, store, clock, monkeypatch):
    worker = make_worker(store, clock, FakeSddc(), sweep_every=10)
    sweeps = []
    real = store.stranded_triggers
    monkeypatch.setattr(store, "stranded_triggers", lambda limit: sweeps.append(limit) or real(limit))
    for _ in range(5):
        worker.run_once()
        clock.advance(1)
    assert len(sweeps) == 1
    clock.advance(10)
    worker.run_once()
    assert len(sweeps) == 2


class CountingStore:
    """The real store, counting the commits that record delivery attempts."""

    def __init__(self, store):
        self._store, self.recorded = store, []

    def record_attempts(self, owner, attempts):
        self.recorded.append(len(attempts))
        self._store.record_attempts(owner, attempts)

    def __getattr__(self, name):
        return getattr(self._store, name)


class FailingAfter(RecordingNotifier):
    """Sends ``ok`` callbacks until the n-th, when the process dies (or, with ``error``, raises that)."""

    def __init__(self, n, error=None):
        super().__init__()
        self.n = n
        self.error = error

    def send(self, delivery):
        if len(self.sent) == self.n:
            self.n = -1 if self.error else self.n
            raise self.error or SimulatedCrash("the process dies mid-pass")
        return super().send(delivery)


def finish_backup_for(service, store, clock, count, **config):
    """``count`` triggers with callbacks on one finished backup, their results due; the worker used."""
    sddc = FakeSddc(["Successful"])
    worker = make_worker(store, clock, sddc, RecordingNotifier(), **config)
    triggers = [accept(service, clock, callbackUrl=f"https://cb.example.com/{i}") for i in range(count)]
    worker.attaching.attach()
    worker.backups.advance()  # submit
    clock.advance(1.5)
    worker.backups.advance()  # poll: Successful, results owed
    return triggers


def test_a_storm_of_results_is_recorded_a_few_attempts_per_commit(service, store, clock):
    counting = CountingStore(store)
    triggers = finish_backup_for(service, store, clock, 45)
    notifier = RecordingNotifier()
    worker = make_worker(counting, clock, FakeSddc(), notifier, record_every=20)

    worker.deliver()

    assert len(notifier.sent) == 45
    assert counting.recorded == [20, 20, 5]
    for trigger in triggers:
        [delivery] = store.deliveries_of_trigger(trigger.id)
        assert delivery.state.value == "DELIVERED" and len(delivery.attempts) == 1


def test_attempts_waiting_longer_than_record_within_are_committed_before_the_next_send(service, store, clock):
    counting = CountingStore(store)
    finish_backup_for(service, store, clock, 4)

    class SlowReceiver(RecordingNotifier):
        def send(self, delivery):
            clock.advance(0.06)  # each callback takes 60 ms
            return super().send(delivery)

    worker = make_worker(counting, clock, FakeSddc(), SlowReceiver(), record_every=20, record_within=0.1)
    worker.deliver()

    # The first attempt waited 120 ms once the third was sent: commit then, not 20 callbacks later.
    assert counting.recorded == [3, 1]


def test_what_was_sent_before_a_failure_is_recorded_and_never_sent_again(service, store, clock):
    triggers = finish_backup_for(service, store, clock, 5)
    broken = make_worker(store, clock, FakeSddc(), FailingAfter(3), record_every=20)

    with pytest.raises(SimulatedCrash):
        broken.deliver()
    clock.advance(120)  # the broken worker's leases run out
    notifier = RecordingNotifier()
    make_worker(store, clock, FakeSddc(), notifier).deliver()

    states = [store.deliveries_of_trigger(t.id)[0] for t in triggers]
    assert [len(d.attempts) for d in states] == [1] * 5
    assert all(d.state.value == "DELIVERED" for d in states)
    assert len(notifier.sent) == 2  # only the two the failure stopped


def test_a_delivery_whose_notifier_raises_gives_up_with_the_reason_and_the_others_go_out(service, store, clock):
    triggers = finish_backup_for(service, store, clock, 5)
    notifier = FailingAfter(2, error=RuntimeError("notifier bug"))
    make_worker(store, clock, FakeSddc(), notifier).deliver()

    states = [store.deliveries_of_trigger(t.id)[0] for t in triggers]
    assert sorted(d.state.value for d in states) == ["DELIVERED"] * 4 + ["GAVE_UP"]
    [gave_up] = [d for d in states if d.state.value == "GAVE_UP"]
    assert "RuntimeError" in (gave_up.last_error or "")


def test_delivered_callbacks_are_logged_one_line_per_record_and_a_failure_on_its_own(service, store, clock,
                                                                                     worker_log):
    finish_backup_for(service, store, clock, 5)

    class FailsTheThird(RecordingNotifier):
        def send(self, delivery):
            result = super().send(delivery)
            return AttemptResult(ok=False, status_code=503, error="receiver answered 503") \
                if len(self.sent) == 3 else result

    make_worker(store, clock, FakeSddc(), FailsTheThird(), record_every=20).deliver()

    [line] = events(worker_log, "delivery.delivered")
    assert line.count == 4 and len(line.delivery_ids) == 4
    [failure] = events(worker_log, "delivery.attempt")
    assert failure.status_code == 503 and failure.state == "PENDING" and failure.delivery_id not in line.delivery_ids


def _slack_rider(service, clock, n: int):  # noqa: ANN202
    from webhook.core.intake import Intake
    from webhook.core.models import default_spec
    from webhook.core.triggers import CallbackTarget, Trigger

    trigger = Trigger(source="slack", caller="slack:T1", spec=default_spec(), dedupe_key=f"slack-{n}",
                      callback=CallbackTarget(kind="slack", url=f"https://hooks.slack.com/{n}"),
                      received_at=clock.now())
    return service.take(Intake(trigger, announce_running=True))


def test_a_rider_told_of_the_running_backup_in_its_answer_owes_no_started_message(service, store, clock):
    from webhook.core.delivery_policy import ANNOUNCED_BACKUP

    sddc, notifier = FakeSddc(["In Progress"] * 4 + ["Successful"]), RecordingNotifier()
    worker = Worker(store, sddc, notifier, clock, WorkerConfig(poll_initial=1, poll_max=1),
                    DeliveryPolicy(started_event_kinds=frozenset({"slack"})))
    first = _slack_rider(service, clock, 1)
    assert first.riding is None  # nothing ran yet: its start is posted when the backup starts
    worker.run_once()
    worker.run_once()
    clock.advance(1)  # past the service's trust in its last read of the running backup (none, then)
    late = _slack_rider(service, clock, 2)
    assert late.riding is not None and late.riding.sddc_task_id == "task-1"
    assert late.trigger.callback.options[ANNOUNCED_BACKUP] == late.riding.id
    run_until_quiet(worker, clock)
    sent = sorted((d.trigger_id == late.trigger.id, d.event.value) for d in notifier.sent)
    assert sent == [(False, "backup.completed"), (False, "backup.started"), (True, "backup.completed")]
    assert len(sddc.started) == 1


def test_a_rider_told_of_a_backup_that_ended_meanwhile_gets_the_start_of_the_next_one(service, store, clock):
    sddc, notifier = FakeSddc(["In Progress", "Successful"]), RecordingNotifier()
    worker = Worker(store, sddc, notifier, clock, WorkerConfig(poll_initial=1, poll_max=1),
                    DeliveryPolicy(started_event_kinds=frozenset({"slack"})))
    _slack_rider(service, clock, 1)
    worker.run_once()
    clock.advance(1)
    late = _slack_rider(service, clock, 2)
    assert late.riding is not None
    for _ in range(10):  # the announced backup ends before the late trigger is attached
        if store.active_backup() is None:
            break
        clock.advance(1.5)
        worker.backups.advance()
    assert store.get_trigger(late.trigger.id).state is TriggerState.ACCEPTED
    run_until_quiet(worker, clock)
    late_events = sorted(d.event.value for d in notifier.sent if d.trigger_id == late.trigger.id)
    assert late_events == ["backup.completed", "backup.started"]
    assert len(sddc.started) == 2


def test_the_running_backup_is_read_again_only_once_the_last_read_is_stale(service, store, clock, monkeypatch):
    from webhook.core.service import RUNNING_FRESH_SECONDS

    reads = []
    monkeypatch.setattr(store, "running_backup", lambda instance: reads.append(instance))
    for n in range(3):
        _slack_rider(service, clock, 100 + n)
    assert reads == ["default"]
    clock.advance(RUNNING_FRESH_SECONDS)
    _slack_rider(service, clock, 99)
    assert reads == ["default", "default"]
