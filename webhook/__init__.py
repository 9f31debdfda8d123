"""vcf-backup-webhook: take SDDC Manager backups from Terraform, Alertmanager, Slack and scripts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

__all__ = ["__version__", "create_app"]

if TYPE_CHECKING:
    from .app import create_app


def __getattr__(name: str) -> Any:
    # Lazy, so that `python -m webhook simulator` does not import the whole service.
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
