"""Benchmarks of vcf-backup-webhook against its ceiling and its peer, all measured in one run.

``.venv/bin/python -m bench`` runs everything; ``--smoke`` proves it still works in seconds.
Speed is measured here, never in timed unit tests.
"""
