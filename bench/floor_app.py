"""The durable floor: what acknowledging a trigger durably costs before any of the service's own work.

Bare Flask (``bare_app``) plus only what no durable trigger endpoint can skip: the bearer token
check, the generic body's validation, and one insert into the real ``triggers`` table (with its
indexes), committed with the node's SQLite settings through the same group commit ``serve`` uses,
before the 202. No logging, no request ids, no metrics, no idempotency lookup, no worker.

The gap between bare Flask and this floor is the store; the gap between the floor and ``serve`` is
the service. Run as ``python -m bench.floor_app`` with the same ``VCFBACKUP_*`` variables as the node.
On PostgreSQL the same: one insert per trigger through the driver, one commit per batch.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

from flask import Flask, request

from webhook.adapters.store.engine import make_engine, writer_queue
from webhook.adapters.store.group_commit import GroupCommit
from webhook.adapters.store.schema import metadata
from webhook.settings import Settings
from webhook.sources.auth import caller_of_token
from webhook.sources.generic import parse_body

from bench.bare_app import BareGunicorn, app_with_health

_COLUMNS = ("id", "source", "caller", "spec", "spec_key", "reason", "received_at", "state")


def durable_inserts(settings: Settings, columns: Sequence[str]) -> GroupCommit[tuple[Any, ...], bool]:
    """Rows of ``columns`` into ``triggers``, committed as ``serve`` commits them: group commit, the node's
    SQLite settings, the host's queue of SQLite writers."""
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    metadata.create_all(engine)
    queue = writer_queue(engine)
    sqlite = engine.dialect.name == "sqlite"
    marker = "?" if sqlite else "%s"
    sql = f"INSERT INTO triggers ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"
    # One connection, used only by the group commit's leader (one at a time): no pool in the way.
    connection = engine.raw_connection()

    def commit(batch: Sequence[tuple[Any, ...]]) -> list[bool]:
        cursor = connection.cursor()
        try:
            if sqlite:
                cursor.execute("BEGIN IMMEDIATE")
                cursor.executemany(sql, batch)
                cursor.execute("COMMIT")
            else:  # the driver opened the transaction; committing it is the durable step
                cursor.executemany(sql, batch)
                connection.commit()
        except BaseException:
            connection.rollback()
            raise
        return [True] * len(batch)

    return GroupCommit(commit, queue.hold if queue else contextlib.nullcontext)


def create_floor_app(settings: Settings) -> Flask:
    tokens = {name: token.get_secret_value() for name, token in settings.api_tokens.items()}
    default_spec = json.dumps(parse_body(b"{}").spec().model_dump(mode="json"))
    group = durable_inserts(settings, _COLUMNS)
    app = app_with_health("floor")

    @app.post("/<path:_anything>")
    def accept(_anything: str) -> Any:
        caller = caller_of_token(request.headers.get("Authorization"), tokens)
        body = parse_body(request.get_data())
        trigger_id = f"trg_{uuid.uuid4().hex}"
        spec = json.dumps(body.spec().model_dump(mode="json")) if body.elements else default_spec
        group.add((trigger_id, "generic", caller, spec, "floor", body.reason, time.time(), "ACCEPTED"))
        return app.response_class(json.dumps({"id": trigger_id, "state": "ACCEPTED"}), 202,
                                  {"Location": f"http://{request.host}/v1/triggers/{trigger_id}"},
                                  mimetype="application/json")

    return app


class FloorGunicorn(BareGunicorn):
    """Same ``load_config`` as ``serve`` and the bare app; only the app differs."""

    def load(self) -> Any:
        return create_floor_app(self.settings)


def main() -> None:
    FloorGunicorn(Settings(metrics_dir=None)).run()


if __name__ == "__main__":
    main()
