# Reads the latest SUCCESSFUL backup with the hashicorp/http data source.
#
# Data sources are read while planning (and at every refresh), so this path QUERIES the service:
# it must never start a backup. Starting one belongs to apply time (../local-exec or a run task).

terraform {
  required_version = ">= 1.4"
  required_providers {
    http = {
      source  = "hashicorp/http"
      version = "~> 3.4"
    }
  }
}

variable "service_url" {
  description = "Base URL of vcf-backup-webhook."
  type        = string
}

variable "api_token" {
  description = "API token of the service. It is sent in request_headers, which Terraform stores in the state: use a token you can rotate, and protect the state (or use ../external, which keeps it out)."
  type        = string
  sensitive   = true
}

variable "max_backup_age_minutes" {
  description = "A change is only planned if a SUCCESSFUL backup ended less than this many minutes ago."
  type        = number
  default     = 60
}

data "http" "latest_backup" {
  url = "${trimsuffix(var.service_url, "/")}/v1/backups/latest"
  request_headers = {
    Accept        = "application/json"
    Authorization = "Bearer ${var.api_token}"
  }

  lifecycle {
    # http >= 3.0 returns 4xx as a status_code instead of failing: check it here. (A 5xx or a
    # connection error fails the plan by itself once the retries are spent.)
    postcondition {
      condition     = self.status_code == 200
      error_message = "vcf-backup-webhook answered ${self.status_code} for /v1/backups/latest (404: no SUCCESSFUL backup yet; 401: wrong token)."
    }
  }
}

locals {
  latest_backup = jsondecode(data.http.latest_backup.response_body)
}

# Stands in for the resources that change the SDDC.
resource "terraform_data" "cluster_change" {
  input = "wld01-cl01"

  lifecycle {
    precondition {
      condition     = local.latest_backup.status == "SUCCESSFUL" && local.latest_backup.ageSeconds < var.max_backup_age_minutes * 60
      error_message = "The latest SUCCESSFUL SDDC Manager backup is older than ${var.max_backup_age_minutes} minutes: take one first."
    }
  }
}

output "latest_backup" {
  description = "SDDC Manager task id, completion time and age of the latest SUCCESSFUL backup."
  value = {
    sddc_task_id = local.latest_backup.id
    completed_at = local.latest_backup.completedAt
    age_seconds  = local.latest_backup.ageSeconds
  }
}
