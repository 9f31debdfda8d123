"""The store's fleet operations on SQLite and PostgreSQL: a slot per instance, fan-out children made once,
many instances attached in one commit."""

from __future__ import annotations

from datetime import UTC, datetime

from webhook.core.fanout import children
from webhook.core.models import default_spec
from webhook.core.ports import Store
from webhook.core.triggers import FANOUT, Backup, BackupState, Trigger, TriggerState

from tests.adapters.test_store_contract import store  # noqa: F401 - fixture (postgres_url: tests/conftest.py)

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_each_instance_has_its_own_active_slot(store: Store):  # noqa: F811 - the contract fixture
    east, created = store.open_backup(Backup(spec=default_spec(), created_at=NOW, instance="us-east"))
    west, created_too = store.open_backup(Backup(spec=default_spec(), created_at=NOW, instance="eu-west"))
    again, opened_again = store.open_backup(Backup(spec=default_spec(), created_at=NOW, instance="us-east"))
    assert created and created_too and not opened_again and again.id == east.id
    assert store.active_backup("us-east").id == east.id and store.active_backup("eu-west").id == west.id
    assert store.active_backup() is None  # "default" has none
    assert set(store.active_backups(["us-east", "eu-west", "ap-south"])) == {"us-east", "eu-west"}
    opened = store.open_backups([Backup(spec=default_spec(), created_at=NOW, instance=name)
                                 for name in ("us-east", "ap-south")])
    assert [(b.instance, made) for b, made in opened] == [("us-east", False), ("ap-south", True)]
    assert opened[0][0].id == east.id


def test_a_fan_out_makes_its_children_once_and_attaches_them_in_one_commit(store: Store):  # noqa: F811
    parent = Trigger(source="generic", caller="ci", spec=default_spec(), received_at=NOW, instance=FANOUT,
                     targets=["eu-west", "us-east"])
    store.add_trigger(parent)
    fresh = store.fan_out(parent.id, children(parent))
    assert fresh is not None and [c.instance for c in fresh] == ["eu-west", "us-east"]
    assert store.fan_out(parent.id, children(parent)) is None  # no longer waiting: nothing made twice
    assert store.fanouts_ready(10) == []  # its children are out
    kids = store.children_of(parent.id)
    assert [k.parent_id for k in kids] == [parent.id] * 2 and all(k.state is TriggerState.ACCEPTED for k in kids)
    backups = {b.instance: b for b, _ in store.open_backups(
        [Backup(spec=default_spec(), created_at=NOW, instance=k.instance) for k in kids])}
    attached = store.attach_many([([k.id], backups[k.instance].id, []) for k in kids])
    assert sorted(attached) == sorted(k.id for k in kids)
    assert {k.backup_id for k in store.children_of(parent.id)} == {b.id for b in backups.values()}
    assert store.fanouts_ready(10) == []  # ATTACHED children: still out
    first, second = kids
    store.complete_triggers([first.id], backups[first.instance].id, NOW, None, [])
    assert store.fanouts_ready(10) == []  # one child still out
    store.complete_triggers([second.id], backups[second.instance].id, NOW, None, [])
    assert [p.id for p in store.fanouts_ready(10)] == [parent.id]  # every child ended: ready to finish
    latest = store.latest_backups(["eu-west", "us-east", "nowhere"])
    assert latest["nowhere"] == (None, None) and latest["eu-west"][0].id == backups["eu-west"].id
    assert latest["eu-west"][1] is None and backups["eu-west"].state is BackupState.SUBMITTING
