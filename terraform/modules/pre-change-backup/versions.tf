terraform {
  # terraform_data is built into Terraform from 1.4 (and into OpenTofu): no provider to download.
  required_version = ">= 1.4"
}
