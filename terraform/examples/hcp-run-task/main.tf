# Registers vcf-backup-webhook as an HCP Terraform / Terraform Enterprise run task and attaches it
# to a workspace at the pre_apply stage: every apply in that workspace waits for an SDDC Manager
# backup, and with enforcement "mandatory" a failed (or timed-out) backup stops the apply.
#
#   export TFE_TOKEN=...                    # an HCP Terraform token that may manage run tasks
#   terraform apply -var organization=my-org -var workspace_name=vcf-prod \
#     -var service_url=https://vcf-backup.example.com
#   (hmac_key from TF_VAR_hmac_key; the service needs the same key in VCFBACKUP_TFC_HMAC_KEY)

terraform {
  required_version = ">= 1.4"
  required_providers {
    tfe = {
      source  = "hashicorp/tfe"
      version = ">= 0.60"
    }
  }
}

provider "tfe" {
  hostname = var.tfe_hostname
}

variable "tfe_hostname" {
  description = "HCP Terraform or your TFE host; the service must list it in VCFBACKUP_TFC_HOSTS."
  type        = string
  default     = "app.terraform.io"
}

variable "organization" {
  description = "HCP Terraform organization."
  type        = string
}

variable "workspace_name" {
  description = "Workspace whose applies need a backup first."
  type        = string
}

variable "service_url" {
  description = "Base URL of vcf-backup-webhook as HCP Terraform reaches it (https)."
  type        = string

  validation {
    condition     = can(regex("^https://", var.service_url))
    error_message = "HCP Terraform calls run tasks over https: service_url must start with https://."
  }
}

variable "hmac_key" {
  description = "The run task's HMAC key; the same value goes into the service's VCFBACKUP_TFC_HMAC_KEY."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.hmac_key) >= 32
    error_message = "Use an HMAC key of at least 32 characters (e.g. openssl rand -hex 32)."
  }
}

variable "enforcement_level" {
  description = "mandatory: a failed or timed-out backup stops the apply; advisory: it only warns."
  type        = string
  default     = "mandatory"

  validation {
    condition     = contains(["mandatory", "advisory"], var.enforcement_level)
    error_message = "The enforcement_level must be mandatory or advisory."
  }
}

resource "tfe_organization_run_task" "vcf_backup" {
  organization = var.organization
  name         = "vcf-backup"
  url          = "${trimsuffix(var.service_url, "/")}/hooks/terraform/run-task"
  hmac_key     = var.hmac_key
  enabled      = true
  description  = "SDDC Manager backup before apply (vcf-backup-webhook)"
}

data "tfe_workspace" "target" {
  organization = var.organization
  name         = var.workspace_name
}

resource "tfe_workspace_run_task" "vcf_backup" {
  workspace_id      = data.tfe_workspace.target.id
  task_id           = tfe_organization_run_task.vcf_backup.id
  enforcement_level = var.enforcement_level
  # The stage the service takes backups at (VCFBACKUP_TFC_BACKUP_STAGES, default pre_apply).
  # tfe provider versions before the stages argument take stage = "pre_apply" instead.
  stages = ["pre_apply"]
}
