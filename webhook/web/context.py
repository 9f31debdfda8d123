"""What the web layer needs, put in ``app.extensions`` by ``create_app`` (web never builds adapters)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from ..core.service import TriggerService

EXTENSION = "vcf_backup_webhook"


@dataclass
class WebContext:
    service: TriggerService
    api_tokens: dict[str, str]
    max_wait: float = 300.0
    public_url: str | None = None
    worker_stale_after: float = 60.0
    sources: dict[str, Any] = field(default_factory=dict)
    metrics_text: Callable[[], bytes] = lambda: b""


def web() -> WebContext:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]
