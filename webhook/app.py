"""Composition root: builds settings, adapters and services, and the Flask app around them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask

from .adapters.doorbell import Doorbell, doorbell_dir
from .adapters.metrics import PrometheusMetrics, StatusCollector, exposition
from .adapters.notifiers import NotifierRouter, WebhookNotifier
from .adapters.sddc_manager import SddcManagerClient
from .adapters.slack_notifier import SlackNotifier
from .adapters.store import SqlStore
from .adapters.tfc_notifier import TfcRunTaskNotifier
from .core.callbacks import CallbackPolicy, HostAllowlist
from .core.clock import SystemClock
from .core.deliveries import DeliveryPolicy
from .core.errors import ServiceError
from .core.metrics import Metrics
from .core.ports import Clock, Notifier, SddcManager, Store
from .core.reachability import TrackedSddcManager
from .core.service import TriggerService
from .core.status import StatusService
from .core.worker import Worker, WorkerConfig
from .logs import configure_logging
from .settings import Settings
from .sources import slack, slack_messages, terraform, terraform_messages
from .sources.alertmanager import AlertmanagerConfig
from .sources.matchers import parse_matchers
from .web import alertmanager as alertmanager_web
from .web import backups as backups_web
from .web import errors as web_errors
from .web import openapi, ops, request_ids, triggers
from .web import slack as slack_web
from .web import terraform as terraform_web
from .web.context import EXTENSION, WebContext
from .web.responses import AppResponse
from .web.ui import bp as ui_bp
from .web.ui.auth import UiAuth


@dataclass
class Services:
    """Everything a node runs with; tests build one around their own parts."""

    settings: Settings
    store: Store
    clock: Clock = field(default_factory=SystemClock)
    wake: Callable[[], None] | None = None
    metrics: Metrics = field(default_factory=PrometheusMetrics)

    def status_service(self) -> StatusService:
        return StatusService(self.store, self.clock, worker_stale_after=self.settings.worker_stale_after)

    def trigger_service(self) -> TriggerService:
        return TriggerService(self.store, self.clock, callback_policy(self.settings), wake=self.wake,
                              metrics=self.metrics)


def callback_policy(settings: Settings) -> CallbackPolicy:
    return CallbackPolicy(HostAllowlist.of(settings.callback_allowed_hosts), allow_http=settings.callback_allow_http)


def alertmanager_config(settings: Settings) -> AlertmanagerConfig:
    """The receiver's settings; a callback URL the allowlist refuses stops startup, not every alert."""
    if settings.alertmanager_callback_url:
        try:
            callback_policy(settings).check(settings.alertmanager_callback_url)
        except ServiceError as exc:
            raise ValueError(f"VCFBACKUP_ALERTMANAGER_CALLBACK_URL is refused: {exc.message}") from None
    return AlertmanagerConfig(
        token=settings.alertmanager_token.get_secret_value() if settings.alertmanager_token else None,
        username=settings.alertmanager_username or None,
        password=settings.alertmanager_password.get_secret_value() if settings.alertmanager_password else None,
        matchers=parse_matchers(settings.alertmanager_matchers),
        elements_key=settings.alertmanager_elements_key,
        cooldown=settings.alertmanager_cooldown,
        callback_url=settings.alertmanager_callback_url or None,
        max_body_bytes=settings.alertmanager_max_body_bytes,
    )


def slack_config(settings: Settings) -> slack.SlackConfig:
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    return slack.SlackConfig(
        signing_secret=secret or None,
        response_urls=slack.response_url_policy(settings.slack_response_hosts),
        allowed_teams=frozenset(settings.slack_allowed_teams),
        allowed_channels=frozenset(settings.slack_allowed_channels),
        allowed_users=frozenset(settings.slack_allowed_users),
        response_type=settings.slack_response_type,
    )


def terraform_config(settings: Settings) -> terraform.RunTaskConfig:
    return terraform.RunTaskConfig(
        hmac_key=settings.tfc_hmac_key.get_secret_value() if settings.tfc_hmac_key else None,
        backup_stages=frozenset(settings.tfc_backup_stages),
        hosts=tuple(settings.tfc_hosts),
        deadline=settings.tfc_deadline,
    )


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


def build_notifier(settings: Settings, store: Store | None = None) -> Notifier:
    secret = settings.callback_signing_secret.get_secret_value() if settings.callback_signing_secret else None
    return NotifierRouter({
        "webhook": WebhookNotifier(callback_policy(settings), secret, timeout=settings.callback_timeout),
        "slack": SlackNotifier(slack_messages.for_delivery, slack_config(settings).response_urls.check, store=store,
                               timeout=settings.callback_timeout),
        "tfc_run_task": TfcRunTaskNotifier(terraform_messages.task_result,
                                           terraform_config(settings).check_callback_url, store=store,
                                           timeout=settings.callback_timeout),
    })


def build_worker(
    settings: Settings, store: Store, *, sddc: SddcManager | None = None, notifier: Notifier | None = None,
    clock: Clock | None = None, worker_id: str | None = None,
) -> Worker:
    config = WorkerConfig(
        lease_seconds=settings.worker_lease, poll_initial=settings.poll_interval,
        poll_max=settings.poll_max_interval, backup_timeout=settings.backup_timeout, retention=settings.retention,
        sddc_probe_every=settings.sddc_probe_interval or None,
        **({"worker_id": worker_id} if worker_id else {}),
    )
    clock = clock or SystemClock()
    tracked = TrackedSddcManager(sddc or build_sddc_client(settings), store, clock)
    return Worker(store, tracked, notifier or build_notifier(settings, store),
                  clock, config, DeliveryPolicy(budget_seconds=settings.callback_budget),
                  metrics=PrometheusMetrics())


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
    app.response_class = AppResponse
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    status = services.status_service()
    app.extensions[EXTENSION] = WebContext(
        service=services.trigger_service(),
        api_tokens={name: token.get_secret_value() for name, token in settings.api_tokens.items()},
        max_wait=settings.max_wait,
        public_url=settings.public_url,
        worker_stale_after=settings.worker_stale_after,
        metrics_text=exposition(settings.metrics_dir, StatusCollector(status.snapshot, services.clock.now)),
        sources={"alertmanager": alertmanager_config(settings), "slack": slack_config(settings),
                 "terraform": terraform_config(settings)},
        status=status,
        ui=ui_auth(settings),
    )
    web_errors.register_error_handlers(app)
    request_ids.install(app)
    app.register_blueprint(ops.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(triggers.bp)
    app.register_blueprint(alertmanager_web.bp)
    app.register_blueprint(slack_web.bp)
    app.register_blueprint(terraform_web.bp)
    app.register_blueprint(backups_web.bp)
    app.register_blueprint(ui_bp)
    return app


def ui_auth(settings: Settings) -> UiAuth:
    """Status page credentials: its own tokens if set, else the API tokens; a secret from settings or random."""
    tokens = settings.ui_tokens or settings.api_tokens
    return UiAuth.with_secret(
        {name: token.get_secret_value() for name, token in tokens.items()},
        settings.ui_secret.get_secret_value() if settings.ui_secret else None,
        proxy_user_header=settings.ui_proxy_user_header, session_lifetime=settings.ui_session_lifetime,
        secure_cookie=(settings.public_url or "").startswith("https://"))
