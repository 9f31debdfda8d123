"""A batch's sibling deliveries read once for first "started" attempts, and afresh for everything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from webhook.adapters import sibling_deliveries
from webhook.adapters.sibling_deliveries import SiblingDeliveries
from webhook.adapters.store import SqlStore
from webhook.core.models import default_spec
from webhook.core.triggers import CallbackTarget, Delivery, DeliveryAttempt, DeliveryEvent, Trigger

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SLACK = CallbackTarget(kind="slack", url="https://hooks.slack.com/x")


class CountingStore(SqlStore):
    reads = 0

    def delivery_outlines(self, trigger_ids):  # noqa: ANN001, ANN201
        self.reads += 1
        return super().delivery_outlines(trigger_ids)


def owed(store: SqlStore, n: int, event: DeliveryEvent = DeliveryEvent.STARTED) -> list[Delivery]:
    found = []
    for i in range(n):
        trigger = store.add_trigger(Trigger(source="slack", caller="c", spec=default_spec(), callback=SLACK,
                                            received_at=NOW + timedelta(seconds=i)))[0]
        delivery = Delivery(trigger_id=trigger.id, event=event, target=SLACK, body={}, created_at=NOW,
                            next_attempt_at=NOW, give_up_at=NOW + timedelta(hours=1))
        store.add_deliveries([delivery])
        found.append(delivery)
    return found


def test_first_started_attempts_of_a_batch_cost_one_read(tmp_path):
    store = CountingStore.from_url(f"sqlite:///{tmp_path / 's.db'}")
    batch = owed(store, 5)
    siblings = SiblingDeliveries(store)
    siblings.prepare(batch)
    assert [siblings.of(d) for d in batch] == [[]] * 5 and store.reads == 1
    assert siblings.of(batch[0]) == [] and store.reads == 2  # a snapshot is used once: then read afresh


def test_a_retry_or_an_old_snapshot_is_read_afresh(tmp_path, monkeypatch):
    store = CountingStore.from_url(f"sqlite:///{tmp_path / 's.db'}")
    [started] = owed(store, 1)
    final = Delivery(trigger_id=started.trigger_id, event=DeliveryEvent.COMPLETED, target=SLACK, body={},
                     created_at=NOW, next_attempt_at=NOW, give_up_at=NOW + timedelta(hours=1))
    retried = final.model_copy(update={"attempts": [DeliveryAttempt(at=NOW, status_code=503)]})
    siblings = SiblingDeliveries(store)
    siblings.prepare([retried])  # a retry is never read ahead
    assert store.reads == 0
    store.add_deliveries([final])
    assert [d.id for d in siblings.of(retried)] == [started.id] and store.reads == 1
    monkeypatch.setattr(sibling_deliveries, "MAX_AGE", -1.0)  # every snapshot already too old
    siblings.prepare([started])
    assert [d.id for d in siblings.of(started)] == [final.id] and store.reads == 3


def test_run_task_final_statuses_are_not_read_ahead_only_running_messages_are(tmp_path):
    from webhook.adapters.tfc_notifier import TfcRunTaskNotifier

    store = CountingStore.from_url(f"sqlite:///{tmp_path / 's.db'}")
    notifier = TfcRunTaskNotifier(lambda *_: {}, lambda _url: None, store=store)
    notifier.prepare(owed(store, 3, DeliveryEvent.COMPLETED))  # a final status never looks at its siblings
    assert store.reads == 0
    notifier.prepare(owed(store, 2))  # a "running" does: no running after the final word
    assert store.reads == 1
