"""Runs the web side under gunicorn, configured from Settings (no gunicorn.conf.py to keep in sync)."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from .gunicorn_worker import BufferingThreadWorker
from .settings import Settings


class WebhookGunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        options: dict[str, Any] = {
            "bind": f"{s.host}:{s.port}",
            "workers": s.web_workers,
            "threads": s.web_threads,
            # gthread, except that a request reaches a thread only once it has arrived (slow senders).
            "worker_class": BufferingThreadWorker,
            # A caller may hold a request open with ?wait= up to max_wait.
            "timeout": int(s.max_wait) + 30,
            "graceful_timeout": 30,
            "keepalive": 5,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "proc_name": "vcf-backup-webhook",
        }
        if s.metrics_dir:
            metrics_dir = s.metrics_dir

            def child_exit(_server: Any, worker: Any) -> None:
                from .adapters.metrics import mark_process_dead

                mark_process_dead(worker.pid, metrics_dir)

            options["child_exit"] = child_exit
        for key, value in options.items():
            self.cfg.set(key, value)
        BufferingThreadWorker.read_timeout = s.web_read_timeout
        BufferingThreadWorker.max_body = max(s.max_body_bytes, s.alertmanager_max_body_bytes)

    def load(self) -> Any:
        import gc

        from .app import create_app

        app = create_app(self.settings)
        # Everything loaded so far (modules, the app, cached statements) lives as long as the process:
        # keep it out of the collector's full passes, which otherwise stop every thread for up to
        # ~100 ms now and then (measured while serving the status page) and set the p99 of every path.
        gc.collect()
        gc.freeze()
        return app


def run_gunicorn(settings: Settings) -> None:
    WebhookGunicorn(settings).run()
