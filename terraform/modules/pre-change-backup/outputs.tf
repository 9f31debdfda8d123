output "id" {
  description = "Changes every time a backup is taken (the terraform_data is replaced); reference it, or depend on the module, to order resources after the backup."
  value       = terraform_data.backup.id
}

output "triggers_replace" {
  description = "The value the current backup was taken for."
  value       = terraform_data.backup.triggers_replace
}
