"""The package's version in a module of its own, so a client (the Terraform provider) can read it
without importing the package's root, which names the app."""

__version__ = "0.1.0"
