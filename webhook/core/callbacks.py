"""Which callback URLs the service may call: an allowlist, https by default, never metadata endpoints."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from .errors import CallbackRefused

# Link-local (cloud metadata lives at 169.254.169.254) and AWS's IPv6 metadata address.
_FORBIDDEN_NETWORKS = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)


def is_forbidden_address(address: str) -> bool:
    """True for addresses no callback may reach, whatever the allowlist says."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in _FORBIDDEN_NETWORKS)


@dataclass(frozen=True)
class HostAllowlist:
    """``host`` or ``host:port`` entries; ``*.example.com`` matches any subdomain of example.com."""

    entries: tuple[str, ...]

    @classmethod
    def of(cls, entries: Iterable[str]) -> HostAllowlist:
        return cls(tuple(e.strip().lower() for e in entries if e.strip()))

    def allows(self, host: str, port: int) -> bool:
        host = host.lower().strip("[]")
        for entry in self.entries:
            pattern, _, entry_port = _split_entry(entry)
            if entry_port and entry_port != str(port):
                continue
            if pattern.startswith("*."):
                if host.endswith(pattern[1:]) and host != pattern[2:]:
                    return True
            elif fnmatchcase(host, pattern):
                return True
        return False


def _split_entry(entry: str) -> tuple[str, str, str]:
    if entry.startswith("["):  # [::1]:8080
        host, _, rest = entry[1:].partition("]")
        return host, ":", rest.lstrip(":")
    if entry.count(":") == 1:
        return entry.partition(":")
    return entry, "", ""


@dataclass(frozen=True)
class CallbackPolicy:
    allowlist: HostAllowlist
    allow_http: bool = False
    setting_name: str = "VCFBACKUP_CALLBACK_ALLOWED_HOSTS"

    def check(self, url: str) -> str:
        """Return the URL if it may be called, else raise ``CallbackRefused`` saying why."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise CallbackRefused(f"callbackUrl is not a valid URL: {exc}") from exc
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        if scheme not in ("https", "http") or not host:
            raise CallbackRefused("callbackUrl must be an absolute https URL.")
        if scheme == "http" and not self.allow_http:
            raise CallbackRefused(
                "callbackUrl uses plain http, which is off.",
                remediation="Use https, or set VCFBACKUP_CALLBACK_ALLOW_HTTP=true for a trusted network.",
            )
        if parts.username or parts.password:
            raise CallbackRefused("callbackUrl must not carry credentials in the URL.")
        if is_forbidden_address(host):
            raise CallbackRefused(f"callbackUrl host {host} is a link-local or metadata address and is never called.")
        effective_port = port or (443 if scheme == "https" else 80)
        if not self.allowlist.allows(host, effective_port):
            raise CallbackRefused(
                f"callbackUrl host {host}:{effective_port} is not on the callback allowlist.",
                remediation=f"Ask the operators to add it to {self.setting_name} (host or host:port entries).",
            )
        return url
