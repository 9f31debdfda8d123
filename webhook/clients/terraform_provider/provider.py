"""The provider block: where the service is and which token to use, from the block or the environment.

Duck-typed to ``tf``'s Provider protocol (it calls these methods by name), which keeps this module
typed without subclassing ``tf``'s untyped classes.
"""

from __future__ import annotations

from typing import Any

from ..http import ENV_TOKEN, ENV_URL, ClientEnvironment
from . import SOURCE, checks
from .api import Connection, ServiceApi
from .backup import BackupResource
from .latest import LatestBackupDataSource
from .schema import DEFAULT_REQUEST_TIMEOUT, provider_schema
from .util import report, seconds


class VcfBackupProvider:
    def __init__(self) -> None:
        self.connection: Connection | None = None
        self.problem: tuple[str, str] | None = None
        self._api: ServiceApi | None = None

    def get_model_prefix(self) -> str:
        return "vcfbackup_"

    def full_name(self) -> str:
        return SOURCE

    def get_provider_schema(self, diags: Any) -> Any:
        return provider_schema()

    def validate_config(self, diags: Any, config: dict[str, Any]) -> None:
        report(diags, checks.provider(config))

    def configure_provider(self, diags: Any, config: dict[str, Any]) -> None:
        """Settle the connection; a missing URL or token is only an error once something needs the service
        (``terraform validate`` and a plan of nothing must work without them)."""
        env = ClientEnvironment.read()
        endpoint = config.get("endpoint") or env.url
        token = config.get("token") or env.token
        if not endpoint or not token:
            missing = " and ".join(n for n, v in (("endpoint", endpoint), ("token", token)) if not v)
            self.problem = (f"the vcfbackup provider has no {missing}",
                            f"Set `endpoint` and `token` in the provider block, or {ENV_URL} and {ENV_TOKEN} in "
                            "Terraform's environment (preferred for the token).")
            return
        verify: bool | str = config.get("ca_bundle") or env.ca_bundle or True
        self.connection = Connection(endpoint=endpoint, token=token, verify=verify,
                                     request_timeout=seconds(config.get("request_timeout") or DEFAULT_REQUEST_TIMEOUT))

    def api(self, diags: Any) -> ServiceApi | None:
        """The client, or None with an error diagnostic saying what is missing."""
        if self._api is None and self.connection is not None:
            self._api = ServiceApi(self.connection)
        if self._api is None:
            diags.add_error(*(self.problem or ("the vcfbackup provider is not configured", "")))
        return self._api

    def get_data_sources(self) -> list[type[Any]]:
        return [LatestBackupDataSource]

    def get_resources(self) -> list[type[Any]]:
        return [BackupResource]

    def get_functions(self) -> list[type[Any]]:
        return []

    def new_resource(self, klass: type[Any]) -> Any:
        return klass(self)

    def new_data_source(self, klass: type[Any]) -> Any:
        return klass(self)

    def new_function(self, klass: type[Any]) -> Any:
        return klass(self)
