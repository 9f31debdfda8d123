"""The registry of sources: what the composition root needs to wire each way in.

A new source is one ``sources/<name>.py`` (verify the sender, translate the request into a
``core.intake.Intake``), one ``web/<name>.py`` (its blueprint ``bp`` and its OpenAPI description
``OPENAPI``) and one ``register(Source(...))``; ``app.py``, ``settings.py`` and ``core/`` stay as
they are. Web modules and notifier factories are named by dotted path, not imported, because
they live in the outer layers (web, adapters) that sources must never import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.callbacks import CallbackPolicy

Configure = Callable[[Mapping[str, Any], CallbackPolicy], object]


@dataclass(frozen=True)
class Source:
    """One way in.

    Attributes:
        name: the key its config is found under in the web context.
        web: dotted module of its web side: a Flask blueprint ``bp`` and an ``OPENAPI`` description.
        settings_section: its settings are the fields ``<section>_*`` (the prefix stripped), if any.
        configure: (its settings section, the callback policy) → its config object.
        notifier_kind: the ``CallbackTarget.kind`` its triggers' results go back through.
        notifier: ``"module:function"`` making that notifier from (config, store=, timeout=).
        wants_started: its callbacks also get a message when the backup starts.
    """

    name: str
    web: str
    settings_section: str | None = None
    configure: Configure | None = None
    notifier_kind: str | None = None
    notifier: str | None = None
    wants_started: bool = False


REGISTRY: dict[str, Source] = {}
_builtin: list[Source] = []


def register(source: Source) -> Source:
    REGISTRY[source.name] = source
    return source


def registered() -> list[Source]:
    """Every source: the built-in ones first, then those registered by name."""
    if not _builtin:  # loaded on first use: importing any sources module stays cheap (no slack_sdk)
        _builtin.extend(_builtin_sources())
    return [*(REGISTRY.get(s.name, s) for s in _builtin), *(s for n, s in REGISTRY.items()
                                                            if n not in {b.name for b in _builtin})]


def started_kinds(sources: Iterable[Source] | None = None) -> frozenset[str]:
    """The notifier kinds whose callbacks also want a "backup started" message."""
    return frozenset(s.notifier_kind for s in (registered() if sources is None else sources)
                     if s.wants_started and s.notifier_kind)


def _builtin_sources() -> list[Source]:
    from . import alertmanager, slack, terraform

    return [
        Source("generic", web="webhook.web.triggers"),
        Source(alertmanager.SOURCE, web="webhook.web.alertmanager", settings_section="alertmanager",
               configure=alertmanager.configure),
        Source(slack.SOURCE, web="webhook.web.slack", settings_section="slack", configure=slack.configure,
               notifier_kind=slack.NOTIFIER_KIND, notifier="webhook.adapters.slack_notifier:for_source",
               wants_started=True),
        Source("terraform", web="webhook.web.terraform", settings_section="tfc", configure=terraform.configure,
               notifier_kind=terraform.KIND, notifier="webhook.adapters.tfc_notifier:for_source",
               wants_started=True),
    ]
