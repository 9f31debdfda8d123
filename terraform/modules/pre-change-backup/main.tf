# A backup of SDDC Manager before the resources that depend on this module change.
#
# The provisioner runs when this terraform_data is created or replaced: on the first apply and
# whenever var.triggers_replace changes. `vcf-backup-webhook trigger --wait` exits non-zero unless
# the backup ends SUCCESSFUL (1 failed, 2 timed out, 3 rejected, 4 service unreachable), which
# fails this resource; Terraform then applies nothing that depends on it. The failed resource is
# tainted, so the next apply takes the backup again.
resource "terraform_data" "backup" {
  triggers_replace = var.triggers_replace

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    # Only the validated executable is interpolated into the command. Every other value reaches it
    # as an environment variable inside double quotes, so the shell never re-parses it, and the URL
    # and token are never on a command line. Null values are left out of the environment, so the
    # command then sees the same variable from Terraform's own environment.
    command = "${var.executable} trigger --wait --timeout \"$VCFBACKUP_MODULE_TIMEOUT\" --reason \"$VCFBACKUP_MODULE_REASON\" --reuse-if-newer-than \"$VCFBACKUP_MODULE_REUSE_IF_NEWER_THAN\" --callback-url \"$VCFBACKUP_MODULE_CALLBACK_URL\""

    environment = {
      VCFBACKUP_TRIGGER_URL                = var.service_url
      VCFBACKUP_TRIGGER_TOKEN              = var.api_token
      VCFBACKUP_TRIGGER_CA_BUNDLE          = var.ca_bundle
      VCFBACKUP_MODULE_TIMEOUT             = var.timeout_seconds
      VCFBACKUP_MODULE_REASON              = "${var.reason} (workspace ${terraform.workspace})"
      VCFBACKUP_MODULE_REUSE_IF_NEWER_THAN = var.reuse_if_newer_than
      VCFBACKUP_MODULE_CALLBACK_URL        = var.callback_url
    }
  }
}
