"""The provider's docs in the Terraform Registry layout, rendered from the schema Terraform gets
(``docs/index.md``, ``docs/resources/backup.md``, ``docs/data-sources/latest_backup.md``).

``scripts/update_terraform_docs.py`` writes them under ``terraform/``; a test fails when they drift.
"""

from __future__ import annotations

import json
from typing import Any

from . import SOURCE, VERSION
from .schema import DOCS, backup_schema, latest_backup_schema, provider_schema

PROVIDER_EXAMPLE = f"""terraform {{
  required_providers {{
    vcfbackup = {{
      source  = "{SOURCE}"
      version = "{VERSION}"
    }}
  }}
}}

# endpoint and token from VCFBACKUP_TRIGGER_URL and VCFBACKUP_TRIGGER_TOKEN in Terraform's environment
provider "vcfbackup" {{}}"""

BACKUP_EXAMPLE = """resource "vcfbackup_backup" "pre_change" {
  # A new backup whenever the cluster's configuration changes, before it is applied.
  triggers = {
    cluster = sha256(jsonencode(var.cluster))
  }
  reason = "change of cluster ${var.cluster["name"]}"
}

# Applied only after the backup ended SUCCESSFUL.
resource "terraform_data" "cluster_change" {
  input      = var.cluster
  depends_on = [vcfbackup_backup.pre_change]
}"""

LATEST_EXAMPLE = """data "vcfbackup_latest_backup" "last" {}

resource "terraform_data" "routine_change" {
  input = var.setting

  lifecycle {
    precondition {
      condition = (data.vcfbackup_latest_backup.last.status == "SUCCESSFUL" &&
      try(data.vcfbackup_latest_backup.last.age_seconds < 24 * 3600, false))
      error_message = "No SUCCESSFUL SDDC Manager backup in the last 24 hours: take one first."
    }
  }
}"""

INSTALL = """## Install

The provider is Python and ships with vcf-backup-webhook; nothing is downloaded from a registry:

```shell
pip install 'vcf-backup-webhook[terraform]'
vcf-backup-webhook terraform-provider install    # into ~/.terraform.d/plugins, found by a plain `terraform init`
terraform init
```

`vcf-backup-webhook terraform-provider install --dir DIR` lays it into `DIR` instead, for
`terraform init -plugin-dir DIR` (CI runners, TFE agents). The installed files are the same bytes on
every machine, so a committed `.terraform.lock.hcl` holds everywhere. Record the hash for every
platform once (it is the same hash for each; see `terraform/README.md`):

```shell
terraform providers lock -fs-mirror="$HOME/.terraform.d/plugins" \\
  -platform=linux_amd64 -platform=linux_arm64 -platform=darwin_amd64 -platform=darwin_arm64
```"""


def type_name(encoded: bytes) -> str:
    """A cty type as the Registry docs write it: String, Number, List of String, Map of String..."""
    def name(kind: Any) -> str:
        if isinstance(kind, str):
            return kind.capitalize()
        if kind[0] == "object":
            return "Object"
        return f"{kind[0].capitalize()} of {name(kind[1])}"
    return name(json.loads(encoded))


def attribute_line(attribute: Any) -> str:
    kind = type_name(attribute.type.tf_type())
    sensitive = ", Sensitive" if attribute.sensitive else ""
    return f"- `{attribute.name}` ({kind}{sensitive}) {attribute.description}"


def schema_section(schema: Any) -> str:
    groups: dict[str, list[str]] = {"Required": [], "Optional": [], "Read-Only": []}
    nested: list[str] = []
    for attribute in sorted(schema.attributes, key=lambda a: a.name):
        group = "Required" if attribute.required else "Optional" if attribute.optional else "Read-Only"
        line = attribute_line(attribute)
        inner = getattr(getattr(attribute.type, "element_type", None), "attributes", None)
        if inner:
            line += f" (see [below for nested schema](#nestedatt--{attribute.name}))"
            nested.append(f'<a id="nestedatt--{attribute.name}"></a>\n### Nested Schema for `{attribute.name}`\n\n'
                          "Read-Only:\n\n" + "\n".join(
                              f"- `{key}` ({type_name(value.tf_type())})" for key, value in sorted(inner.items())))
        groups[group].append(line)
    parts = ["## Schema"]
    for group, lines in groups.items():
        if lines:
            parts.append(f"### {group}\n\n" + "\n".join(lines))
    return "\n\n".join(parts + nested)


def page(key: str, subcategory: str, example: str, schema: Any, extra: str = "") -> str:
    doc = DOCS[key]
    front = f'---\npage_title: "{doc.title}"\nsubcategory: "{subcategory}"\ndescription: |-\n  {doc.summary}\n---'
    body = [front, f"# {doc.title}", doc.summary, f"## Example Usage\n\n```terraform\n{example}\n```",
            schema_section(schema)]
    if extra:
        body.append(extra)
    return "\n\n".join(body) + "\n"


def render() -> dict[str, str]:
    """Relative path under terraform/ → the file's text."""
    import_section = ("## Import\n\nImport takes a trigger id (the `id` of a finished trigger whose backup ended "
                      "SUCCESSFUL):\n\n```shell\nterraform import vcfbackup_backup.pre_change "
                      "trg_0123456789abcdef\n```")
    return {
        "docs/index.md": page("provider", "", PROVIDER_EXAMPLE, provider_schema(), INSTALL),
        "docs/resources/backup.md": page("backup", "", BACKUP_EXAMPLE, backup_schema(), import_section),
        "docs/data-sources/latest_backup.md": page("latest_backup", "", LATEST_EXAMPLE, latest_backup_schema()),
    }
