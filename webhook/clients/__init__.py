"""Outside-in clients of the service's HTTP API: the ``trigger`` command's client, the ``tf-status``
program for Terraform's ``external`` data source, and the ``vcfbackup`` Terraform provider.

They speak HTTP to the service like any other caller and import nothing from ``core``, ``adapters``
or ``web`` at run time; what they share lives in :mod:`webhook.clients.http`.
"""
