"""``python -m webhook.clients.terraform_provider``: what Terraform launches (through the launcher script).

Nothing may reach stdout before go-plugin's handshake line, which ``tf``'s runner prints: logs go to
stderr, where Terraform keeps them (``TF_LOG``).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path


def cert_cache_path() -> Path:
    """Where ``tf`` keeps its self-signed plugin certificate: ``$XDG_CACHE_HOME`` or ``~/.cache``, and a
    private temporary directory when HOME is not writable (a locked-down CI runner), instead of failing."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    for directory in (base / "tf-python-provider",
                      Path(tempfile.gettempdir()) / f"vcfbackup-provider-{os.getuid()}"):
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(directory, os.W_OK):
            return directory / "ssl_cert.json"
    return Path(tempfile.mkdtemp(prefix="vcfbackup-provider-")) / "ssl_cert.json"


def main() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from tf import runner  # type: ignore[import-untyped]

    from .provider import VcfBackupProvider

    runner._get_cert_cache_path = cert_cache_path  # the library's own lookup fails on a read-only HOME
    runner.run_provider(VcfBackupProvider(), sys.argv)


if __name__ == "__main__":
    main()
