# A freshness gate with the hashicorp/external data source and `vcf-backup-webhook tf-status`:
# the plan fails unless a SUCCESSFUL SDDC Manager backup ended less than N minutes ago.
#
#   export VCFBACKUP_TRIGGER_URL=https://vcf-backup.example.com
#   export VCFBACKUP_TRIGGER_TOKEN=...      # read by tf-status from the environment, never in state
#   terraform plan
#
# tf-status only reads (GET /v1/backups/latest): the data source runs at every plan and refresh.

terraform {
  required_version = ">= 1.4"
  required_providers {
    external = {
      source  = "hashicorp/external"
      version = "~> 2.3"
    }
  }
}

variable "max_backup_age_minutes" {
  description = "A change is only planned if a SUCCESSFUL backup ended less than this many minutes ago."
  type        = number
  default     = 60
}

data "external" "latest_backup" {
  program = ["vcf-backup-webhook", "tf-status"]
  # Optional keys: url (else VCFBACKUP_TRIGGER_URL), ca_bundle, timeout. Never the token: the query
  # is stored in the state.
  query = {}
}

# Stands in for the resources that change the SDDC.
resource "terraform_data" "cluster_change" {
  input = "wld01-cl01"

  lifecycle {
    precondition {
      condition     = data.external.latest_backup.result.status == "SUCCESSFUL" && tonumber(data.external.latest_backup.result.age_seconds) < var.max_backup_age_minutes * 60
      error_message = "The latest SUCCESSFUL SDDC Manager backup is older than ${var.max_backup_age_minutes} minutes: take one first (vcf-backup-webhook trigger --wait)."
    }
  }
}

output "latest_backup" {
  description = "The latest SUCCESSFUL backup as tf-status reports it (all strings)."
  value       = data.external.latest_backup.result
}
