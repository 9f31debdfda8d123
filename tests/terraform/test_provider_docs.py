"""The provider's Registry docs are generated from its schema and cannot drift from it; and the schema
the docs are made from is the one real Terraform gets from the provider."""

from __future__ import annotations

import json
from pathlib import Path

from webhook import __version__
from webhook.clients.terraform_provider.docs import render
from webhook.clients.terraform_provider.schema import backup_schema, latest_backup_schema, provider_schema

from tests.support.terraform import Workdir, install_provider

TERRAFORM = Path(__file__).resolve().parents[2] / "terraform"


def test_docs_match_the_schema():
    for relative, text in render().items():
        path = TERRAFORM / relative
        assert path.exists() and path.read_text(encoding="utf-8") == text, (
            f"{relative} drifted from the schema: run .venv/bin/python scripts/update_terraform_docs.py")


def test_the_registry_layout_is_complete():
    assert set(render()) == {"docs/index.md", "docs/resources/backup.md", "docs/data-sources/latest_backup.md"}
    docs = render()
    for schema, page in ((provider_schema(), "docs/index.md"), (backup_schema(), "docs/resources/backup.md"),
                         (latest_backup_schema(), "docs/data-sources/latest_backup.md")):
        for attribute in schema.attributes:
            assert f"- `{attribute.name}` (" in docs[page], (page, attribute.name)
            assert attribute.description, attribute.name


def test_terraform_sees_the_documented_schema(tmp_path, terraform):
    work = Workdir.create(terraform, tmp_path)
    install_provider(work.home)
    work.write('terraform {\n  required_providers {\n    vcfbackup = {\n'
               f'      source  = "vcf-backup-webhook/vcfbackup"\n      version = "{__version__}"\n'
               '    }\n  }\n}\n\nprovider "vcfbackup" {}\n')
    work.run("init")
    shown = json.loads(work.run("providers", "schema", "-json").stdout)
    provider = shown["provider_schemas"]["registry.terraform.io/vcf-backup-webhook/vcfbackup"]
    seen = {
        "provider": provider["provider"]["block"]["attributes"],
        "backup": provider["resource_schemas"]["vcfbackup_backup"]["block"]["attributes"],
        "latest_backup": provider["data_source_schemas"]["vcfbackup_latest_backup"]["block"]["attributes"],
    }
    for key, schema in (("provider", provider_schema()), ("backup", backup_schema()),
                        ("latest_backup", latest_backup_schema())):
        assert {a.name: a.description for a in schema.attributes} == {
            name: body.get("description") for name, body in seen[key].items()}
    assert seen["provider"]["token"]["sensitive"] is True
    assert seen["backup"]["resources"]["type"] == ["list", ["object", {"fqdn": "string", "resource_id": "string",
                                                                       "type": "string"}]]
