# The pre-change-backup module in use: an SDDC Manager backup before every apply that changes
# the cluster configuration, and no change at all when the backup fails.
#
#   export VCFBACKUP_TRIGGER_TOKEN=...      # the token never enters Terraform
#   terraform init && terraform apply -var vcf_backup_url=https://vcf-backup.example.com

terraform {
  required_version = ">= 1.4"
}

variable "vcf_backup_url" {
  description = "Base URL of vcf-backup-webhook."
  type        = string
}

variable "cluster" {
  description = "Stands in for the VCF configuration you change (a workload domain, a cluster, NSX segments...)."
  type        = map(string)
  default = {
    name      = "wld01-cl01"
    hosts     = "4"
    vsan_size = "large"
  }
}

module "pre_change_backup" {
  source = "../../modules/pre-change-backup"

  service_url = var.vcf_backup_url
  # api_token stays null: the command reads VCFBACKUP_TRIGGER_TOKEN from this process's environment.

  # A new backup whenever the configuration below changes, before it is applied.
  triggers_replace = sha256(jsonencode(var.cluster))
  reason           = "change of cluster ${var.cluster["name"]}"

  # Several modules applying together may share one backup taken in the last 15 minutes.
  reuse_if_newer_than = "15m"
}

# Stands in for the resources that really change the SDDC (vsphere_*, nsxt_*, a VCF provider).
# depends_on the module: Terraform applies it only after the backup ended SUCCESSFUL.
resource "terraform_data" "cluster_change" {
  input = var.cluster

  depends_on = [module.pre_change_backup]
}

output "backup_run" {
  description = "Changes whenever a backup was taken for this configuration."
  value       = module.pre_change_backup.id
}
