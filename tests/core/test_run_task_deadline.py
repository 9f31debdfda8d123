"""The run task deadline inside the worker/delivery model: exactly one final word per run task.

A deadline delivery is stored with the trigger, due at the deadline. The worker sends it only if
it can still finish the trigger; then the backup's end owes that trigger nothing. If the backup
ended first, the deadline delivery is cancelled unsent. Real SQLite store, scripted SDDC Manager.
"""

from __future__ import annotations

import pytest

from webhook.adapters.store import SqlStore
from webhook.core.callbacks import CallbackPolicy, HostAllowlist
from webhook.core.delivery_policy import DeliveryPolicy
from webhook.core.service import TriggerService
from webhook.core.triggers import AttemptResult, DeliveryEvent, DeliveryState, TriggerState
from webhook.core.worker import Worker, WorkerConfig
from webhook.sources import started_kinds, terraform

from tests.fakes import FakeClock, FakeSddc, RecordingNotifier

TOKEN = "atlasv1.secret-run-task-token"
CONFIG = terraform.RunTaskConfig(hmac_key="k", hosts=("app.terraform.io",), deadline=60)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def store(tmp_path):
    return SqlStore.from_url(f"sqlite:///{tmp_path / 'deadline.db'}")


@pytest.fixture
def service(store, clock):
    return TriggerService(store, clock, CallbackPolicy(HostAllowlist.of([])))


def run_task(service, task_result_id="taskrs-1"):
    run = terraform.RunTaskRequest.model_validate({
        "payload_version": 1, "stage": "pre_apply", "access_token": TOKEN, "organization_name": "acme",
        "workspace_name": "vcf-prod", "run_id": "run-1", "task_result_id": task_result_id,
        "task_result_callback_url": f"https://app.terraform.io/api/v2/task-results/{task_result_id}/callback"})
    return service.take(terraform.intake(run, CONFIG, received_at=service.clock.now(),
                                         status_url=lambda i: f"https://svc/v1/triggers/{i}")).trigger


def make_worker(store, clock, sddc, notifier):
    return Worker(store, sddc, notifier, clock, WorkerConfig(poll_initial=10, poll_max=10),
                  DeliveryPolicy(budget_seconds=600, initial_backoff=1, max_backoff=2,
                                 started_event_kinds=started_kinds()))


def step(worker, clock, seconds, times=1):
    for _ in range(times):
        clock.advance(seconds)
        worker.run_once()


def events(notifier):
    return [d.event for d in notifier.sent]


def test_deadline_reports_failed_and_the_backup_end_owes_nothing_more(service, store, clock):
    sddc, notifier = FakeSddc(["In Progress"] * 20 + ["Successful"]), RecordingNotifier()
    worker = make_worker(store, clock, sddc, notifier)
    trigger = run_task(service)
    worker.run_once()
    assert events(notifier) == [DeliveryEvent.STARTED]
    step(worker, clock, 10, times=6)  # 60 s: the deadline is due
    assert events(notifier) == [DeliveryEvent.STARTED, DeliveryEvent.DEADLINE]
    deadline = notifier.sent[-1]
    assert deadline.body["status"] == "IN_PROGRESS" and deadline.body["id"] == "task-1"
    assert "did not end within 1 min" in deadline.body["note"]
    assert store.get_trigger(trigger.id).state is TriggerState.DONE
    step(worker, clock, 10, times=20)  # the backup ends SUCCESSFUL later
    assert store.get_backup(store.get_trigger(trigger.id).backup_id).state.value == "SUCCESSFUL"
    assert events(notifier) == [DeliveryEvent.STARTED, DeliveryEvent.DEADLINE]
    assert all(d.event is not DeliveryEvent.COMPLETED for d in store.deliveries_of_trigger(trigger.id))


def test_backup_ending_first_cancels_the_deadline_unsent(service, store, clock):
    sddc, notifier = FakeSddc(["In Progress", "Successful"]), RecordingNotifier()
    worker = make_worker(store, clock, sddc, notifier)
    trigger = run_task(service)
    step(worker, clock, 10, times=8)
    assert events(notifier) == [DeliveryEvent.STARTED, DeliveryEvent.COMPLETED]
    [guard] = [d for d in store.deliveries_of_trigger(trigger.id) if d.event is DeliveryEvent.DEADLINE]
    assert guard.state is DeliveryState.CANCELLED and guard.attempts == []
    assert "not needed" in (guard.last_error or "")


def test_a_deadline_attempt_that_failed_is_retried_and_still_has_the_final_word(service, store, clock):
    sddc = FakeSddc(["In Progress"] * 50)
    notifier = RecordingNotifier([AttemptResult(ok=True, status_code=200),
                                  AttemptResult(ok=False, status_code=503, error="down")])
    worker = make_worker(store, clock, sddc, notifier)
    trigger = run_task(service)
    step(worker, clock, 10, times=9)
    assert events(notifier) == [DeliveryEvent.STARTED, DeliveryEvent.DEADLINE, DeliveryEvent.DEADLINE]
    [guard] = [d for d in store.deliveries_of_trigger(trigger.id) if d.event is DeliveryEvent.DEADLINE]
    assert guard.state is DeliveryState.DELIVERED and len(guard.attempts) == 2


def test_the_access_token_is_forgotten_once_the_final_status_is_out(service, store, clock):
    sddc, notifier = FakeSddc(["In Progress", "Successful"]), RecordingNotifier()
    worker = make_worker(store, clock, sddc, notifier)
    trigger = run_task(service)
    assert store.get_trigger(trigger.id).callback.options["access_token"] == TOKEN
    step(worker, clock, 10, times=8)
    assert "access_token" not in store.get_trigger(trigger.id).callback.options
    for delivery in store.deliveries_of_trigger(trigger.id):
        assert "access_token" not in delivery.target.options
    assert TOKEN not in str(store.get_trigger(trigger.id).model_dump())


def test_a_retried_request_owes_one_deadline_only(service, store, clock):
    first, again = run_task(service), run_task(service)
    assert first.id == again.id
    owed = store.deliveries_of_trigger(first.id)
    assert [d.event for d in owed] == [DeliveryEvent.DEADLINE]


def test_a_deadline_delivery_that_cannot_be_handled_gives_up_alone_with_the_reason(service, store, clock):
    sddc, notifier = FakeSddc(["In Progress"] * 20), RecordingNotifier()
    worker = make_worker(store, clock, sddc, notifier)
    trigger = run_task(service)
    worker.run_once()

    def broken(*_args):
        raise ValueError("a row this code cannot read")

    worker.deliveries.store = type("Broken", (), {"__getattr__": lambda _s, n: getattr(store, n),
                                                  "expire_trigger": staticmethod(broken)})()
    step(worker, clock, 10, times=6)  # the deadline is due: checking it raises, for this delivery only
    [deadline] = [d for d in store.deliveries_of_trigger(trigger.id) if d.event is DeliveryEvent.DEADLINE]
    assert deadline.state.value == "GAVE_UP" and "referenceToken" in (deadline.last_error or "")
