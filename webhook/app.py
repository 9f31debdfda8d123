"""Composition root: builds settings, adapters and services, and the Flask app around them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask

from .adapters.doorbell import Doorbell, doorbell_dir
from .adapters.notifiers import NotifierRouter, WebhookNotifier
from .adapters.sddc_manager import SddcManagerClient
from .adapters.store import SqlStore
from .core.callbacks import CallbackPolicy, HostAllowlist
from .core.clock import SystemClock
from .core.deliveries import DeliveryPolicy
from .core.ports import Clock, Notifier, SddcManager, Store
from .core.service import TriggerService
from .core.worker import Worker, WorkerConfig
from .logs import configure_logging
from .settings import Settings
from .web import errors as web_errors
from .web import ops, triggers
from .web.context import EXTENSION, WebContext


@dataclass
class Services:
    """Everything a node runs with; tests build one around their own parts."""

    settings: Settings
    store: Store
    clock: Clock = field(default_factory=SystemClock)
    wake: Callable[[], None] | None = None

    def trigger_service(self) -> TriggerService:
        return TriggerService(self.store, self.clock, callback_policy(self.settings), wake=self.wake)


def callback_policy(settings: Settings) -> CallbackPolicy:
    return CallbackPolicy(HostAllowlist.of(settings.callback_allowed_hosts), allow_http=settings.callback_allow_http)


def build_store(settings: Settings) -> SqlStore:
    return SqlStore.from_url(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)


def build_services(settings: Settings) -> Services:
    bell = Doorbell(doorbell_dir(settings.database_url))
    return Services(settings=settings, store=build_store(settings), wake=bell.ring)


def build_sddc_client(settings: Settings) -> SddcManagerClient:
    return SddcManagerClient(
        settings.sddc_url, settings.sddc_username, settings.sddc_password_value(),
        verify=settings.tls_verify(), connect_timeout=settings.sddc_connect_timeout,
        read_timeout=settings.sddc_read_timeout,
    )


def build_notifier(settings: Settings) -> Notifier:
    secret = settings.callback_signing_secret.get_secret_value() if settings.callback_signing_secret else None
    return NotifierRouter({
        "webhook": WebhookNotifier(callback_policy(settings), secret, timeout=settings.callback_timeout),
    })


def build_worker(
    settings: Settings, store: Store, *, sddc: SddcManager | None = None, notifier: Notifier | None = None,
    clock: Clock | None = None, worker_id: str | None = None,
) -> Worker:
    config = WorkerConfig(
        lease_seconds=settings.worker_lease, poll_initial=settings.poll_interval,
        poll_max=settings.poll_max_interval, backup_timeout=settings.backup_timeout,
        **({"worker_id": worker_id} if worker_id else {}),
    )
    return Worker(store, sddc or build_sddc_client(settings), notifier or build_notifier(settings),
                  clock or SystemClock(), config, DeliveryPolicy(budget_seconds=settings.callback_budget))


def run_worker_loop(settings: Settings, store: Store, stop: threading.Event, **kwargs: object) -> None:
    """A worker loop woken by the doorbell; returns when ``stop`` is set."""
    worker = build_worker(settings, store, **kwargs)  # type: ignore[arg-type]
    wake = threading.Event()
    Doorbell(doorbell_dir(settings.database_url)).listen(worker.owner, wake, stop)
    stopper = threading.Thread(target=lambda: (stop.wait(), wake.set()), daemon=True)
    stopper.start()
    worker.run_forever(stop, wake)


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> Flask:
    """The web application. ``services`` is the seam tests use to bring their own store or clock."""
    settings = settings or (services.settings if services else Settings())
    configure_logging(settings.log_level)
    services = services or build_services(settings)
    app = Flask("webhook")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = WebContext(
        service=services.trigger_service(),
        api_tokens={name: token.get_secret_value() for name, token in settings.api_tokens.items()},
        max_wait=settings.max_wait,
        public_url=settings.public_url,
        worker_stale_after=settings.worker_stale_after,
    )
    web_errors.register_error_handlers(app)
    app.register_blueprint(ops.bp)
    app.register_blueprint(triggers.bp)
    return app
