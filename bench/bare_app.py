"""The ceiling: a bare Flask app under exactly the gunicorn settings ``serve`` uses.

It reads the body and answers 202 with a small JSON document, on any path, and stores nothing; the
gap between it and a real endpoint is what verification, validation and the durable commit cost.
Run as ``python -m bench.bare_app`` with the same ``VCFBACKUP_*`` variables as the node.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request

from webhook.gunicorn_app import WebhookGunicorn
from webhook.settings import Settings


def app_with_health(name: str) -> Flask:
    """A Flask app answering ``GET /healthz`` (what the bench waits on before loading it)."""
    app = Flask(name)

    @app.get("/healthz")
    def health() -> Any:
        return {"status": "ok"}

    return app


def create_bare_app() -> Flask:
    app = app_with_health("bare")

    @app.post("/<path:_anything>")
    def accept(_anything: str) -> Any:
        request.get_data()
        return jsonify({"id": "trg_0", "state": "ACCEPTED"}), 202

    return app


class BareGunicorn(WebhookGunicorn):
    """Same ``load_config`` (bind, workers, threads, worker class, keep-alive); only the app differs."""

    def load(self) -> Any:
        return create_bare_app()


def main() -> None:
    settings = Settings(metrics_dir=None)
    BareGunicorn(settings).run()


if __name__ == "__main__":
    main()
