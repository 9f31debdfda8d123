"""Composition root of the web side: the Flask app around the services ``wiring.py`` builds."""

from __future__ import annotations

from flask import Flask

from .adapters.metrics import StatusCollector, exposition
from .logs import configure_logging
from .settings import Settings
from .sources import registered
from .web import backups as backups_web
from .web import errors as web_errors
from .web import instances as instances_web
from .web import openapi, ops, request_ids
from .web import ui as ui_web
from .web.context import EXTENSION, WebContext
from .web.responses import AppResponse
from .web.ui.auth import UiAuth
from .wiring import (  # noqa: F401  (re-exported: the names callers have always imported from here)
    Services,
    build_notifier,
    build_sddc_client,
    build_sddc_clients,
    build_services,
    build_store,
    build_worker,
    callback_policy,
    load,
    run_worker_loop,
    settings_section,
    source_configs,
)


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> Flask:
    """The web application. ``services`` is the seam tests use to bring their own store or clock."""
    settings = settings or (services.settings if services else Settings())
    configure_logging(settings.log_level)
    services = services or build_services(settings)
    app = Flask("webhook")
    app.response_class = AppResponse
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    sources = registered()
    modules = [ops, openapi, *(load(source.web) for source in sources), backups_web, instances_web, ui_web]
    status = services.status_service()
    app.extensions[EXTENSION] = WebContext(
        service=services.trigger_service(),
        api_tokens={name: token.get_secret_value() for name, token in settings.api_tokens.items()},
        max_wait=settings.max_wait,
        public_url=settings.public_url,
        worker_stale_after=settings.worker_stale_after,
        metrics_text=exposition(settings.metrics_dir, StatusCollector(status.snapshot, services.clock.now)),
        sources=source_configs(settings, sources),
        openapi=openapi.document(module.OPENAPI for module in modules),
        status=status,
        ui=ui_auth(settings),
    )
    web_errors.register_error_handlers(app)
    request_ids.install(app)
    for module in modules:
        app.register_blueprint(module.bp)
    return app


def ui_auth(settings: Settings) -> UiAuth:
    """Status page credentials: its own tokens if set, else the API tokens; a secret from settings or random."""
    tokens = settings.ui_tokens or settings.api_tokens
    return UiAuth.with_secret(
        {name: token.get_secret_value() for name, token in tokens.items()},
        settings.ui_secret.get_secret_value() if settings.ui_secret else None,
        proxy_user_header=settings.ui_proxy_user_header, session_lifetime=settings.ui_session_lifetime,
        secure_cookie=(settings.public_url or "").startswith("https://"))
