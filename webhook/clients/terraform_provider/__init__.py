"""The ``vcfbackup`` Terraform provider, in Python on the ``tf`` framework (plugin protocol 6).

Terraform launches it as a plugin; it is a client of the service's HTTP API like the ``trigger``
command: ``vcfbackup_backup`` takes a backup through ``POST /v1/triggers`` and waits for its end,
``vcfbackup_latest_backup`` reads ``GET /v1/backups/latest``. ``vcf-backup-webhook terraform-provider
install`` lays it where a plain ``terraform init`` finds it (see :mod:`.install`).
"""

from __future__ import annotations

from ..._version import __version__

HOSTNAME = "registry.terraform.io"
NAMESPACE = "vcf-backup-webhook"
TYPE = "vcfbackup"
SOURCE = f"{NAMESPACE}/{TYPE}"
VERSION = __version__

__all__ = ["HOSTNAME", "NAMESPACE", "SOURCE", "TYPE", "VERSION"]
