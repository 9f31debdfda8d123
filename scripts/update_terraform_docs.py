"""Regenerate the vcfbackup provider's Registry docs under terraform/docs from its schema (a test checks
they match)."""

from __future__ import annotations

from pathlib import Path

from webhook.clients.terraform_provider.docs import render

TERRAFORM = Path(__file__).resolve().parents[1] / "terraform"

if __name__ == "__main__":
    for relative, text in render().items():
        target = TERRAFORM / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
