"""``GET /v1/triggers`` reads a page with its backups and deliveries in a fixed number of queries.

It used to re-read each trigger, its backup and its deliveries: about 1,500 queries for 500 items.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from webhook.adapters.store import SqlStore
from webhook.app import Services, create_app
from webhook.core.models import default_spec
from webhook.core.triggers import Backup, CallbackTarget, Delivery, DeliveryEvent, Trigger

from tests.conftest import API_TOKEN

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def filled(make_settings):
    settings = make_settings()
    store = SqlStore.from_url(settings.database_url)
    target = CallbackTarget(kind="webhook", url="https://hooks.example.com/x")
    made = [Trigger(source="generic", caller="ci", spec=default_spec(), reason=f"t{n}", callback=target,
                    received_at=NOW + timedelta(seconds=n)) for n in range(500)]
    for trigger in made:
        store.add_trigger(trigger)
    for start in range(0, 500, 100):
        backup, _ = store.open_backup(Backup(spec=default_spec(), created_at=NOW))
        store.attach_triggers([t.id for t in made[start:start + 100]], backup.id, [])
        [claimed] = store.claim_backups("w1", NOW, 60, 10)
        claimed.completed_at = NOW
        claimed.state = claimed.state.SUCCESSFUL
        assert store.save_backup(claimed, "w1")
    store.add_deliveries([Delivery(trigger_id=t.id, event=DeliveryEvent.COMPLETED, target=target, body={},
                                   created_at=NOW, next_attempt_at=NOW, give_up_at=NOW) for t in made])
    app = create_app(settings, services=Services(settings=settings, store=store))
    return store, app.test_client()


def count_queries(store: SqlStore, client, path: str) -> tuple[int, dict]:
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        statements.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", count)
    try:
        response = client.get(path, headers=AUTH)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(statements), response.get_json()


def test_an_audit_page_costs_the_same_few_queries_for_5_or_500_items(filled):
    store, client = filled
    small, page5 = count_queries(store, client, "/v1/triggers?limit=5")
    large, page500 = count_queries(store, client, "/v1/triggers?limit=500")
    assert len(page5["items"]) == 5 and len(page500["items"]) == 500
    assert small == large <= 6, (small, large)  # three reads (page, backups, deliveries), each maybe with a BEGIN
    item = page500["items"][0]
    assert item["backup"]["outcome"] == "success" and len(item["deliveries"]) == 1
