"""What the web layer needs, put in ``app.extensions`` by ``create_app`` (web never builds adapters)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import current_app

from ..core.service import TriggerService
from ..core.status import StatusService

EXTENSION = "vcf_backup_webhook"

C = TypeVar("C")


@dataclass
class WebContext:
    service: TriggerService
    api_tokens: dict[str, str]
    max_wait: float = 300.0
    public_url: str | None = None
    worker_stale_after: float = 60.0
    sources: dict[str, object] = field(default_factory=dict)  # registry name → that source's config
    metrics_text: Callable[[], bytes] = lambda: b""
    status: StatusService | None = None  # the status page's read-only views
    ui: Any = None  # web.ui.auth.UiAuth: who may read the status page
    openapi: dict[str, Any] = field(default_factory=dict)  # the document, built from the registered modules

    def source_config(self, name: str, kind: type[C]) -> C:
        """The config ``create_app`` built for source ``name``, checked to be of the type its blueprint expects."""
        found = self.sources.get(name)
        if not isinstance(found, kind):
            raise LookupError(f"source {name!r} has no {kind.__name__} (is it registered in webhook.sources?)")
        return found


def web() -> WebContext:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]
