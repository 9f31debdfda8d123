# The vcfbackup provider: an SDDC Manager backup before every apply that changes the cluster, and a
# freshness gate for changes that need a recent backup but not one of their own.
#
#   vcf-backup-webhook terraform-provider install   # once per machine (or --dir DIR + terraform init -plugin-dir DIR)
#   export VCFBACKUP_TRIGGER_URL=https://vcf-backup.example.com
#   export VCFBACKUP_TRIGGER_TOKEN=...              # read by the provider, never in the state
#   terraform init && terraform apply

terraform {
  required_version = ">= 1.4" # terraform_data stands in for your real resources
  required_providers {
    vcfbackup = {
      source  = "vcf-backup-webhook/vcfbackup"
      version = "~> 0.1"
    }
  }
}

# endpoint and token come from VCFBACKUP_TRIGGER_URL and VCFBACKUP_TRIGGER_TOKEN.
provider "vcfbackup" {}

variable "cluster" {
  description = "Stands in for the VCF configuration you change (a workload domain, a cluster, NSX segments...)."
  type        = map(string)
  default = {
    name      = "wld01-cl01"
    hosts     = "4"
    vsan_size = "large"
  }
}

variable "ntp_servers" {
  description = "Stands in for a routine setting: it needs a recent backup, not one of its own."
  type        = list(string)
  default     = ["ntp1.example.com", "ntp2.example.com"]
}

variable "max_backup_age_hours" {
  description = "A routine change is applied only if a SUCCESSFUL backup ended less than this many hours ago."
  type        = number
  default     = 24
}

# A new backup whenever the cluster's configuration changes, taken before that change is applied.
# If it does not end SUCCESSFUL, the apply fails with SDDC Manager's message and nothing that
# depends on it is changed.
resource "vcfbackup_backup" "pre_change" {
  triggers = {
    cluster = sha256(jsonencode(var.cluster))
  }
  reason = "change of cluster ${var.cluster["name"]}"
  # Several configurations applying together may share one backup taken in the last 15 minutes.
  reuse_if_newer_than = "15m"
  timeout             = "1h"
}

# Stands in for the resources that really change the SDDC (vsphere_*, nsxt_*, a VCF provider).
resource "terraform_data" "cluster_change" {
  input      = var.cluster
  depends_on = [vcfbackup_backup.pre_change]
}

# Read at plan time; when this apply also takes the backup above, read after it (depends_on).
data "vcfbackup_latest_backup" "last" {
  depends_on = [vcfbackup_backup.pre_change]
}

resource "terraform_data" "routine_change" {
  input = var.ntp_servers

  lifecycle {
    precondition {
      condition     = data.vcfbackup_latest_backup.last.status == "SUCCESSFUL" && try(data.vcfbackup_latest_backup.last.age_seconds < var.max_backup_age_hours * 3600, false)
      error_message = "No SUCCESSFUL SDDC Manager backup in the last ${var.max_backup_age_hours} hours: take one first (change the cluster trigger, or vcf-backup-webhook trigger --wait)."
    }
  }
}

output "backup" {
  description = "The backup this configuration was last applied after."
  value = {
    trigger_id   = vcfbackup_backup.pre_change.id
    sddc_task_id = vcfbackup_backup.pre_change.sddc_task_id
    completed_at = vcfbackup_backup.pre_change.completed_at
  }
}
