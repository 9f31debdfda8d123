variable "triggers_replace" {
  description = <<-EOT
    The change this backup guards, as any value: typically a hash of the configuration of the
    resources that depend on this module, e.g. sha256(jsonencode(local.cluster)). Whenever it
    changes, the backup runs again before those resources change. It is stored in the state in
    plain text, so never put a secret in it.
  EOT
  type        = any
  nullable    = false
}

variable "service_url" {
  description = "Base URL of vcf-backup-webhook, e.g. https://vcf-backup.example.com. Null: VCFBACKUP_TRIGGER_URL from Terraform's own environment."
  type        = string
  default     = null

  validation {
    condition     = var.service_url == null || can(regex("^https?://[^[:space:]]+$", var.service_url))
    error_message = "The service_url must be an http(s) URL such as https://vcf-backup.example.com (or null)."
  }
}

variable "api_token" {
  description = <<-EOT
    API token of the service (one of its VCFBACKUP_API_TOKENS). Prefer null and export
    VCFBACKUP_TRIGGER_TOKEN in the environment of `terraform apply`: the command inherits it and
    the token never enters Terraform at all (see the README for what Terraform keeps otherwise).
  EOT
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.api_token == null || try(length(trimspace(var.api_token)) > 0, false)
    error_message = "The api_token must be a non-empty token, or null to use VCFBACKUP_TRIGGER_TOKEN from the environment."
  }
}

variable "reason" {
  description = "Why the backup is taken; the audit trail shows it with the Terraform workspace appended."
  type        = string
  default     = "Terraform pre-change backup"
  nullable    = false

  validation {
    condition     = length(var.reason) > 0 && length(var.reason) <= 1500
    error_message = "The reason must be 1 to 1500 characters."
  }
}

variable "timeout_seconds" {
  description = "How long the apply waits for the backup to end; when it runs out the command exits 2 and the apply stops (the backup goes on)."
  type        = number
  default     = 3600
  nullable    = false

  validation {
    condition     = var.timeout_seconds > 0 && var.timeout_seconds <= 86400
    error_message = "The timeout_seconds must be more than 0 and at most 86400 (one day)."
  }
}

variable "reuse_if_newer_than" {
  description = "Accept a SUCCESSFUL backup that ended this recently instead of taking a new one, e.g. \"15m\" (null: always a new backup)."
  type        = string
  default     = null

  validation {
    condition     = var.reuse_if_newer_than == null || can(regex("^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)?$", var.reuse_if_newer_than))
    error_message = "The reuse_if_newer_than must be a duration such as 900, 90s, 15m or 1h (or null)."
  }
}

variable "callback_url" {
  description = "Where the service also posts the signed result (must be on the service's callback allowlist); null for none."
  type        = string
  default     = null

  validation {
    condition     = var.callback_url == null || can(regex("^https?://[^[:space:]]+$", var.callback_url))
    error_message = "The callback_url must be an http(s) URL (or null)."
  }
}

variable "ca_bundle" {
  description = "CA bundle file to verify the service's TLS certificate (null: the system's CAs, or VCFBACKUP_TRIGGER_CA_BUNDLE)."
  type        = string
  default     = null
}

variable "executable" {
  description = "The vcf-backup-webhook command: a name on PATH or a path (it is part of a shell command, so no spaces or shell characters)."
  type        = string
  default     = "vcf-backup-webhook"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_./+-]+$", var.executable))
    error_message = "The executable may only contain letters, digits and _ . / + - (use a symlink for other paths)."
  }
}
